"""The gate's palm pipeline up to the template. Pure: a region of interest in, a template and
its scores out.

The region (128 x 128 grey, as the sensor delivers it) is filtered by a bank of six real
Gabor filters, one per orientation kπ/6, in the neurophysiology-based form that
Competitive Code implementations use (DC removed, so flat skin answers zero). A palm line
is dark, so the filter along its orientation answers most negatively. Each 4 x 4 block's
mean responses give its winning orientation, and blocks where no orientation clearly wins
(flat skin, crossings) are masked out. The result is a 32 x 32 Competitive Code
(edge/protocol/palm_template.py), 512 bytes.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from edge.protocol.palm_template import GRID, ORIENTATIONS, PalmTemplate

ROI = 128
BLOCK = ROI // GRID


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


class PalmEncoder:
    # Tuned on synthetic identities 0..149 (bench/palm.py scores others): a low frequency
    # (a period of about 25 px) follows the creases through blur better than CompCode's 0.35.
    def __init__(self, omega: float = 0.25, kappa: float = 2.78, radius: int = 16, mask_share: float = 0.15) -> None:
        self._bank = gabor_bank(omega, kappa, radius)
        self._fine = gabor_bank(0.6, 2.0, 8)  # for quality: sharp creases answer it, blur and noise do not
        self._mask_share = mask_share  # the weakest blocks masked out, as a share of all

    def encode(self, roi: np.ndarray) -> PalmCode:
        if roi.shape != (ROI, ROI):
            raise ValueError(f"a palm region is {ROI} x {ROI} grey, not {roi.shape}")
        image = roi.astype(np.float64)
        image = (image - image.mean()) / (image.std() + 1e-6)
        responses = np.stack([signal.fftconvolve(image, kernel, mode="same") for kernel in self._bank])
        blocks = responses.reshape(ORIENTATIONS, GRID, BLOCK, GRID, BLOCK).mean(axis=(2, 4))
        winner = np.argmin(blocks, axis=0)
        ordered = np.sort(blocks, axis=0)
        margin = ordered[1] - ordered[0]  # how clearly the winner wins
        mask = margin > np.quantile(margin, self._mask_share)
        return PalmCode(PalmTemplate.from_code(winner.astype(np.uint8), mask), self._quality(image))

    def _quality(self, image: np.ndarray) -> int:
        """How strongly the sharpest lines stand out at a fine scale (the 90th percentile of
        the best line answer per pixel, on the contrast-normalised image): flat skin or noise
        answers about 1.5, a sharp palm 5 and more, a smeared one about 3."""
        fine = np.stack([signal.fftconvolve(image, kernel, mode="same") for kernel in self._fine])
        lines = float(np.percentile(-fine.min(axis=0), 90))
        return max(0, min(1000, round(1000 * (lines - 1.5) / 3.5)))
