"""The palm pipeline's self-test: a built-in reference palm, drawn here from fixed numbers, run
through the gate's encoder as a capture would be. Pure.

It passes when the reference palm scores as a clear, live palm, when encoding it again gives
the same template bit for bit, and when the same palm printed with a halftone screen is
refused as not live. The template itself is never shown.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from edge.gate.palm import ROI, PalmEncoder

# Creases of the test palm: y = a + b (x - c)^2 over x in 0..1 of the region, with a width
# and a depth in grey levels: three principal creases, then finer ones.
_CREASES = (
    (0.30, 0.25, 0.5, 0.020, 60),
    (0.55, -0.08, 0.0, 0.018, 55),
    (0.80, -0.35, 0.2, 0.020, 60),
    (0.15, 0.30, -0.5, 0.010, 35),
    (0.95, -0.40, -0.3, 0.010, 35),
    (0.45, 0.20, 0.7, 0.008, 30),
)


def reference_palm() -> np.ndarray:
    y, x = np.mgrid[0:ROI, 0:ROI].astype(np.float64) / ROI
    image = np.full((ROI, ROI), 150.0)
    for a, b, c, width, depth in _CREASES:
        image -= depth * np.exp(-((y - (a + b * (x - c) ** 2)) ** 2) / (2 * width**2))
    # Skin: broad shading, and pores, whose fine, flat spectrum is what a live palm shows.
    image += 150 * ndimage.gaussian_filter(np.random.default_rng(7).normal(0, 1, (ROI, ROI)), 6)
    image += np.random.default_rng(8).normal(0, 8, (ROI, ROI))
    return np.clip(image, 0, 255).astype(np.uint8)


def printed(image: np.ndarray) -> np.ndarray:
    """The palm as a photo printed with a 4 px halftone screen."""
    y, x = np.mgrid[0:ROI, 0:ROI]
    dots = ((x % 4) < 2) & ((y % 4) < 2)
    return np.clip(image.astype(np.float64) * (0.6 + 0.8 * dots), 0, 255).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class SelfTest:
    passed: bool
    quality_pm: int
    live_pm: int
    repeatable: bool
    print_live_pm: int


def self_test(encoder: PalmEncoder, min_quality_pm: int, min_live_pm: int) -> SelfTest:
    palm = reference_palm()
    first = encoder.encode(palm)
    again = encoder.encode(palm)
    spoof = encoder.encode(printed(palm))
    repeatable = first.template.to_bytes() == again.template.to_bytes()
    for code in (first, again, spoof):
        code.template.planes.fill(0)
    passed = (
        first.quality_pm >= min_quality_pm
        and first.live_pm >= min_live_pm
        and repeatable
        and spoof.live_pm < min_live_pm
    )
    return SelfTest(passed, first.quality_pm, first.live_pm, repeatable, spoof.live_pm)
