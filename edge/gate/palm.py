"""The gate's palm pipeline up to the template. Pure: a region of interest in, a template and
its scores out.

The region (128 x 128 grey, as the sensor delivers it) is filtered by two banks of six
real Gabor filters, one per orientation kπ/6, in the neurophysiology-based form that
Competitive Code implementations use (DC removed, so flat skin answers zero): a broad one
for the principal creases, which every palm has in much the same places, and a finer one
for the secondary creases, which tell palms apart. A palm line is dark, so the filter
along its orientation answers most negatively. Each 4 x 4 block's mean responses give its
winning orientation at each scale; blocks where neither scale has a clear winner (flat
skin) are masked out. The result is a two-scale 32 x 32 Competitive Code
(edge/protocol/palm_template.py), 896 bytes.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from edge.protocol.palm_template import GRID, ORIENTATIONS, PalmTemplate

ROI = 128
BLOCK = ROI // GRID
FINEST_RING = 20  # spectrum rings from here out (periods under 6.4 px) are searched for peaks
LIVE_PEAK = 20.0  # a peak this high or lower scores 1000 for liveness
SPOOF_PEAK = 40.0  # and this high or higher 0


def gabor_bank(omega: float, kappa: float, radius: int) -> np.ndarray:
    """ORIENTATIONS real Gabor kernels, (2 radius + 1) square, zero mean."""
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float64)
    kernels = []
    for k in range(ORIENTATIONS):
        theta = k * math.pi / ORIENTATIONS
        along = x * math.cos(theta) + y * math.sin(theta)
        across = -x * math.sin(theta) + y * math.cos(theta)
        envelope = (
            omega / (math.sqrt(2 * math.pi) * kappa) * np.exp(-(omega**2) / (8 * kappa**2) * (4 * across**2 + along**2))
        )
        kernel = envelope * np.cos(omega * across)
        kernels.append(kernel - kernel.mean())
    return np.stack(kernels)


@dataclass(frozen=True, slots=True)
class PalmCode:
    template: PalmTemplate
    quality_pm: int  # how sharply the capture shows palm lines, 0..1000
    live_pm: int  # how little the capture looks like a print or a screen, 0..1000


class PalmEncoder:
    # Tuned on synthetic identities 1000..1299 (bench/palm.py scores others): a low frequency
    # (a period of about 25 px) follows the principal creases through blur better than
    # CompCode's 0.35, and a period of about 13 px the secondary ones.
    def __init__(self, mask_share: float = 0.15) -> None:
        self._coarse = gabor_bank(0.25, 2.78, 16)
        self._fine = gabor_bank(0.5, 2.78, 8)
        self._sharp = gabor_bank(0.6, 2.0, 8)  # for quality: sharp creases answer it, blur and noise do not
        self._mask_share = mask_share  # the weakest blocks of each scale, as a share of all
        window = np.hanning(ROI)
        self._window = np.outer(window, window)
        y, x = np.mgrid[-ROI // 2 : ROI // 2, -ROI // 2 : ROI // 2]
        radius = np.rint(np.hypot(x, y)).astype(int)
        self._rings = [np.flatnonzero(np.fft.ifftshift(radius) == r) for r in range(FINEST_RING, radius.max() + 1)]

    def encode(self, roi: np.ndarray) -> PalmCode:
        if roi.shape != (ROI, ROI):
            raise ValueError(f"a palm region is {ROI} x {ROI} grey, not {roi.shape}")
        image = roi.astype(np.float64)
        image = (image - image.mean()) / (image.std() + 1e-6)
        coarse, coarse_clear = self._code(image, self._coarse)
        fine, fine_clear = self._code(image, self._fine)
        template = PalmTemplate.from_codes(coarse, fine, coarse_clear | fine_clear)
        return PalmCode(template, self._quality(image), self._liveness(image))

    def _code(self, image: np.ndarray, bank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each block's winning orientation under the bank, and whether it clearly wins."""
        responses = np.stack([signal.fftconvolve(image, kernel, mode="same") for kernel in bank])
        blocks = responses.reshape(ORIENTATIONS, GRID, BLOCK, GRID, BLOCK).mean(axis=(2, 4))
        ordered = np.sort(blocks, axis=0)
        margin = ordered[1] - ordered[0]
        return np.argmin(blocks, axis=0).astype(np.uint8), margin > np.quantile(margin, self._mask_share)

    def _quality(self, image: np.ndarray) -> int:
        """How strongly the sharpest lines stand out at a fine scale (the 90th percentile of
        the best line answer per pixel, on the contrast-normalised image): flat skin or noise
        answers about 1.5, a sharp palm 5 and more, a smeared one about 3."""
        sharp = np.stack([signal.fftconvolve(image, kernel, mode="same") for kernel in self._sharp])
        lines = float(np.percentile(-sharp.min(axis=0), 90))
        return max(0, min(1000, round(1000 * (lines - 1.5) / 3.5)))

    def _liveness(self, image: np.ndarray) -> int:
        """A print's halftone dots and a screen's pixel grid are periodic, so they stand out of
        the image's spectrum as sharp peaks above what a live palm, whose fine detail falls
        off smoothly with frequency, shows at the same frequency. The score is the highest
        peak over its frequency ring's median: live palms 5 to 25, prints and screens 40
        and more (hw/sim/palm.presentation_attack)."""
        spectrum = np.abs(np.fft.fft2(image * self._window)).ravel()
        peak = max(float(spectrum[ring].max() / (np.median(spectrum[ring]) + 1e-9)) for ring in self._rings)
        return max(0, min(1000, round(1000 * (SPOOF_PEAK - peak) / (SPOOF_PEAK - LIVE_PEAK))))
