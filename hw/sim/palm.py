"""Synthetic palms with known identities, for the palm pipeline's tests and benchmark.

Written after the published Bezier-crease recipe (BezierPalm, Zhao et al., ECCV 2022, and
RPG-Palm's generator, as summarised in ../shared/research/palm.md §2), not copied from any
implementation. An identity is a seed: three principal creases (quadratic Béziers whose
ends lie on the border of the palm region, each bent its own way), 5 to 14 secondary
creases, and a low-frequency skin texture. A capture of an identity jitters every crease a
little, drops some faint secondary ones, and is then seen through the sensor: a small
shift and rotation of the hand, uneven light, blur and noise. Everything is a function of
the (identity, capture) seeds, so no palm data is ever stored or downloaded.

The output is the sensor's region of interest: 128 x 128 grey, creases dark on skin.
"""

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

SIZE = 128
# Where each principal crease starts and ends on the region's border, as perimeter
# positions (0..4 going round the unit square from the top-left corner), and how far its
# middle bends off the chord (a fraction of the chord's length).
PRINCIPAL = (
    ((0.05, 0.35), (1.25, 1.6), (0.10, 0.22)),  # heart line: top edge to the right edge
    ((3.55, 3.85), (1.75, 2.1), (-0.20, -0.08)),  # head line: left edge to the bottom right
    ((3.2, 3.5), (2.3, 2.7), (-0.16, -0.06)),  # life line: left edge round to the bottom
)


@dataclass(frozen=True, slots=True)
class Crease:
    head: tuple[float, float]  # in the unit square
    tail: tuple[float, float]
    bend: float  # the control point's offset from the chord's middle, along its normal, in chord lengths
    width: float  # pixels
    depth: float  # how much darker than the skin, 0..1


@dataclass(frozen=True, slots=True)
class PalmIdentity:
    principal: tuple[Crease, ...]
    secondary: tuple[Crease, ...]
    texture_seed: int


@dataclass(frozen=True, slots=True)
class CaptureConditions:
    shift_px: float = 3.0  # the hand's placement, each way
    rotation_deg: float = 3.0
    # Creases do not move on a palm: between captures only the skin stretches a little, about
    # a pixel here (BezierPalm jitters far more, as augmentation for training networks).
    crease_jitter: float = 0.01  # of the region's size, on every end and bend
    drop_faint: float = 0.15  # the chance a secondary crease is too faint to see this time
    blur_px: float = 1.2  # the most blur (Gaussian sigma)
    noise: float = 0.03  # sensor noise, of full scale
    light: float = 0.25  # the most brightness gradient across the region


def _on_border(t: float) -> tuple[float, float]:
    """A point on the unit square's border, t in 0..4 going round from the top-left corner."""
    t %= 4.0
    side, f = int(t), t - int(t)
    return ((f, 0.0), (1.0, f), (1.0 - f, 1.0), (0.0, 1.0 - f))[side]


def identity(seed: int) -> PalmIdentity:
    rng = np.random.default_rng([seed, 0x9A1])
    principal = tuple(
        Crease(
            _on_border(rng.uniform(*head)),
            _on_border(rng.uniform(*tail)),
            float(rng.uniform(*bend)),
            float(rng.uniform(1.6, 2.4)),
            float(rng.uniform(0.35, 0.55)),
        )
        for head, tail, bend in PRINCIPAL
    )
    secondary = []
    for _ in range(int(rng.integers(5, 15))):
        start = rng.uniform(0.05, 0.95, 2)
        angle = rng.uniform(0, math.pi)
        length = rng.uniform(0.12, 0.45)
        end = np.clip(start + length * np.array([math.cos(angle), math.sin(angle)]), 0.0, 1.0)
        secondary.append(
            Crease(
                (float(start[0]), float(start[1])),
                (float(end[0]), float(end[1])),
                float(np.clip(rng.normal(0.0, 0.2), -0.4, 0.4)),
                float(rng.uniform(0.9, 1.4)),
                float(rng.uniform(0.12, 0.3)),
            )
        )
    return PalmIdentity(principal, tuple(secondary), int(rng.integers(2**31)))


def _points(crease: Crease, jitter: np.ndarray) -> np.ndarray:
    """Pixel positions along the crease, about half a pixel apart, after this capture's jitter."""
    head = np.array(crease.head) + jitter[0:2]
    tail = np.array(crease.tail) + jitter[2:4]
    chord = tail - head
    normal = np.array([-chord[1], chord[0]])
    control = (head + tail) / 2 + (crease.bend + jitter[4]) * normal
    steps = max(8, int(2 * SIZE * float(np.linalg.norm(chord)) * 1.2))
    t = np.linspace(0.0, 1.0, steps)[:, None]
    curve = (1 - t) ** 2 * head + 2 * (1 - t) * t * control + t**2 * tail
    return curve * (SIZE - 1)


def _draw(canvas: np.ndarray, points: np.ndarray, depth: float) -> None:
    """Splat the points into the canvas bilinearly: a one-pixel line, to be widened by blur."""
    x, y = points[:, 0], points[:, 1]
    inside = (x >= 0) & (x < SIZE - 1) & (y >= 0) & (y < SIZE - 1)
    x, y = x[inside], y[inside]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(canvas, (y0 + dy, x0 + dx), depth * weight)


def capture(palm: PalmIdentity, seed: int, conditions: CaptureConditions = CaptureConditions()) -> np.ndarray:
    """One capture of the palm's region of interest: SIZE x SIZE uint8."""
    rng = np.random.default_rng([seed, 0xCA7])
    creases = np.zeros((SIZE, SIZE), np.float64)
    fine = np.zeros((SIZE, SIZE), np.float64)
    for crease in palm.principal:
        jitter = rng.uniform(-1, 1, 5) * conditions.crease_jitter * np.array([1, 1, 1, 1, 2])
        _draw(creases, _points(crease, jitter), crease.depth * rng.uniform(0.85, 1.15))
    for crease in palm.secondary:
        if rng.random() < conditions.drop_faint * (0.3 / crease.depth):
            continue
        jitter = rng.uniform(-1, 1, 5) * conditions.crease_jitter * np.array([1, 1, 1, 1, 2])
        _draw(fine, _points(crease, jitter), crease.depth * rng.uniform(0.8, 1.2))
    lines = ndimage.gaussian_filter(creases, 1.0) * 2.2 + ndimage.gaussian_filter(fine, 0.7) * 1.6
    texture = ndimage.gaussian_filter(np.random.default_rng(palm.texture_seed).normal(0, 1, (SIZE, SIZE)), 6)
    skin = 0.62 + 0.5 * texture + 0.03 * rng.normal(0, 1, (SIZE, SIZE))  # pores change every capture
    image = np.clip(skin - np.clip(lines, 0, 0.8), 0, 1)
    # The hand as placed on the sensor this time: a small rotation and shift of the whole region.
    angle = math.radians(rng.uniform(-1, 1) * conditions.rotation_deg)
    shift = rng.uniform(-1, 1, 2) * conditions.shift_px
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centre = np.array([SIZE / 2, SIZE / 2])
    offset = centre - rotation @ centre - rotation @ shift
    image = ndimage.affine_transform(image, rotation, offset=offset, order=1, mode="reflect")
    gy, gx = np.mgrid[0:SIZE, 0:SIZE] / SIZE - 0.5
    direction = rng.uniform(0, 2 * math.pi)
    light = 1.0 + rng.uniform(0, conditions.light) * (gx * math.cos(direction) + gy * math.sin(direction))
    image = ndimage.gaussian_filter(image * light, rng.uniform(0.3, conditions.blur_px))
    image += rng.normal(0, conditions.noise, image.shape)
    return np.clip(image * 255, 0, 255).astype(np.uint8)


Attack = Literal["print", "screen"]


def presentation_attack(palm: PalmIdentity, seed: int, kind: Attack) -> np.ndarray:
    """A capture of the palm as an impostor would present it: a photo printed on paper (a
    halftone dot screen at 3 to 5 px, a flatter tone range) or shown on a phone's screen
    (its pixel grid beating against the sensor's at 2.5 to 4 px, a gamma)."""
    rng = np.random.default_rng([seed, 0xA77])
    image = capture(palm, seed, CaptureConditions(blur_px=0.6, noise=0.01)).astype(np.float64) / 255
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    angle = rng.uniform(0, math.pi)
    along = x * math.cos(angle) + y * math.sin(angle)
    across = -x * math.sin(angle) + y * math.cos(angle)
    if kind == "print":
        period = rng.uniform(3.0, 5.0)
        dots = (np.cos(2 * math.pi * along / period) + np.cos(2 * math.pi * across / period)) / 4 + 0.5
        image = 0.25 + 0.5 * (image > dots * 0.9 + 0.05)  # ink or paper, in a flattened range
        image = ndimage.gaussian_filter(image, 0.6)
    else:
        period = rng.uniform(2.5, 4.0)
        grid = 0.8 + 0.2 * np.cos(2 * math.pi * along / period) * np.cos(2 * math.pi * across / period)
        image = ndimage.gaussian_filter(image**0.7 * grid, 0.4)
    image += rng.normal(0, 0.01, image.shape)
    return np.clip(image * 255, 0, 255).astype(np.uint8)
