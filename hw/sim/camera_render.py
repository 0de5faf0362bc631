"""A shelf-unit camera's frames, rendered from a description of what is in view, so that
every frame agrees with its ground truth.

The camera hangs across the aisle and looks down at one shelf: the shelf face with its
lanes fills the top of the image, the aisle floor the bottom. People are seen from above
and behind (torso, head, arms), standing on the floor at a position the floor calibration
maps to pixels; an arm may reach into a lane, its hand empty or holding an item. Frames
vary in lighting and colour cast, carry sensor noise, sometimes motion blur, and may hold
distractors: a shopping cart, a shadow across the shelf, a head leaning close to a lane.

Products get their look from a texture id; training uses ids below HELD_OUT_TEXTURES and
the benchmark ids above, so that it measures products the model never saw.
"""

from dataclasses import dataclass, field

import numpy as np

from edge.camera.geometry import FloorCalibration, LaneRoi

HELD_OUT_TEXTURES = 1_000_000


@dataclass(frozen=True, slots=True)
class ShelfView:
    """The fixed pose of one camera on one shelf: image size, lanes and floor calibration."""

    lanes: tuple[int, ...] = (0, 1, 2, 3)
    width: int = 256
    height: int = 192
    margin: int = 16
    shelf_top: int = 10
    shelf_bottom: int = 92  # the lanes' front edge, in image rows
    roi_rows: int = 44  # the region of interest: the front of each lane, down to the shelf edge
    shelf_x_mm: int = 0  # floor x of the shelf's left end
    shelf_y_mm: int = 0  # floor y of the shelf's front
    shelf_w_mm: int = 1_200
    aisle_mm: int = 1_600  # how far into the aisle the camera sees

    @property
    def lane_px(self) -> float:
        return (self.width - 2 * self.margin) / len(self.lanes)

    def roi(self, index: int) -> LaneRoi:
        x0 = round(self.margin + index * self.lane_px)
        return LaneRoi(
            self.lanes[index], x0, self.shelf_bottom - self.roi_rows, round(x0 + self.lane_px), self.shelf_bottom + 6
        )

    def rois(self) -> list[LaneRoi]:
        return [self.roi(i) for i in range(len(self.lanes))]

    def floor_marks(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Four floor marks: image pixels and floor millimetres, as an installer records them."""
        x0, x1 = self.shelf_x_mm, self.shelf_x_mm + self.shelf_w_mm
        near, far = self.shelf_y_mm + 100, self.shelf_y_mm + self.aisle_mm
        image = [
            (self.margin + 8.0, self.shelf_bottom + 10.0),
            (self.width - self.margin - 8.0, self.shelf_bottom + 10.0),
        ]
        image += [(self.width + 40.0, self.height - 1.0), (-40.0, self.height - 1.0)]
        return image, [(x0, near), (x1, near), (x1, far), (x0, far)]

    def calibration(self) -> FloorCalibration:
        image, floor = self.floor_marks()
        return FloorCalibration.from_points(image, floor)


@dataclass(frozen=True, slots=True)
class Reach:
    """An arm in a lane: the hand's place in the lane's front (0..1 across, 0..1 up from the
    edge) and whether it holds an item (of the texture given)."""

    lane_index: int
    across: float = 0.5
    depth: float = 0.4
    item_texture: int | None = None


@dataclass(frozen=True, slots=True)
class Person:
    x_mm: float
    y_mm: float
    clothes: tuple[int, int, int] = (60, 80, 140)
    skin: tuple[int, int, int] = (200, 160, 130)
    hair: tuple[int, int, int] = (50, 35, 25)
    reach: Reach | None = None
    lean_lane: int | None = None  # a head leaning close to this lane, no hand in it


@dataclass(frozen=True, slots=True)
class Lighting:
    gain: float = 1.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gradient: float = 0.0  # brighter on one side by this fraction
    noise: float = 4.0  # sensor noise, grey levels (1 sigma)
    blur: int = 0  # motion blur length in pixels (0: none)


@dataclass(frozen=True, slots=True)
class Cart:
    x_mm: float
    y_mm: float


@dataclass(frozen=True, slots=True)
class Shadow:
    u: float
    v: float
    radius: float
    depth: float = 0.6  # light left inside the shadow


@dataclass(frozen=True)
class FrameSpec:
    """Everything in view in one frame. Person order is drawing order: later ones occlude."""

    products: tuple[int, ...]  # texture id of each lane's product
    people: tuple[Person, ...] = ()  # drawn far to near: nearer people occlude
    carts: tuple[Cart, ...] = ()
    shadows: tuple[Shadow, ...] = ()
    lighting: Lighting = field(default_factory=Lighting)
    seed: int = 0  # noise


def texture_colors(texture: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A product's two colours and pattern (0 stripes, 1 checks, 2 band), from its id."""
    rng = np.random.default_rng(texture)
    return (
        rng.integers(30, 240, 3).astype(np.float32),
        rng.integers(30, 240, 3).astype(np.float32),
        int(rng.integers(3)),
    )


def _paint(image: np.ndarray, mask: np.ndarray, color: np.ndarray | tuple[int, int, int], y0: int, x0: int) -> None:
    h, w = mask.shape
    region = image[y0 : y0 + h, x0 : x0 + w]
    region[mask] = color


def _clip_box(image: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int] | None:
    h, w = image.shape[:2]
    bx0, by0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    bx1, by1 = min(w, int(np.ceil(x1)) + 1), min(h, int(np.ceil(y1)) + 1)
    return None if bx0 >= bx1 or by0 >= by1 else (bx0, by0, bx1, by1)


def ellipse(image: np.ndarray, cu: float, cv: float, ru: float, rv: float, color: tuple[int, int, int]) -> None:
    box = _clip_box(image, cu - ru, cv - rv, cu + ru, cv + rv)
    if box is None:
        return
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1]
    mask = ((xx - cu) / max(ru, 0.5)) ** 2 + ((yy - cv) / max(rv, 0.5)) ** 2 <= 1.0
    _paint(image, mask, color, y0, x0)


def capsule(
    image: np.ndarray, a: tuple[float, float], b: tuple[float, float], radius: float, color: tuple[int, int, int]
) -> None:
    """A thick line with round ends: an arm."""
    box = _clip_box(
        image, min(a[0], b[0]) - radius, min(a[1], b[1]) - radius, max(a[0], b[0]) + radius, max(a[1], b[1]) + radius
    )
    if box is None:
        return
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1]
    du, dv = b[0] - a[0], b[1] - a[1]
    length2 = max(du * du + dv * dv, 1e-9)
    t = np.clip(((xx - a[0]) * du + (yy - a[1]) * dv) / length2, 0.0, 1.0)
    mask = (xx - a[0] - t * du) ** 2 + (yy - a[1] - t * dv) ** 2 <= radius * radius
    _paint(image, mask, color, y0, x0)


def textured_box(image: np.ndarray, x0: float, y0: float, x1: float, y1: float, texture: int) -> None:
    box = _clip_box(image, x0, y0, x1 - 1, y1 - 1)
    if box is None:
        return
    bx0, by0, bx1, by1 = box
    first, second, pattern = texture_colors(texture)
    yy, xx = np.mgrid[by0:by1, bx0:bx1]
    if pattern == 0:
        mask = ((yy - by0) // 3) % 2 == 0
    elif pattern == 1:
        mask = (((yy - by0) // 4) + ((xx - bx0) // 4)) % 2 == 0
    else:
        mask = np.abs((yy - by0) - (by1 - by0) / 2) < (by1 - by0) / 5
    region = image[by0:by1, bx0:bx1]
    region[:] = first
    region[mask] = second


class Renderer:
    def __init__(self, view: ShelfView) -> None:
        self.view = view
        self.calibration = view.calibration()

    def _px_per_mm(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """Pixels per millimetre across the floor and into the aisle, at a floor point."""
        u0, v0 = self.calibration.to_image(x_mm, y_mm)
        u1, _ = self.calibration.to_image(x_mm + 100, y_mm)
        _, v1 = self.calibration.to_image(x_mm, y_mm + 100)
        return abs(u1 - u0) / 100, abs(v1 - v0) / 100

    def _background(self, products: tuple[int, ...]) -> np.ndarray:
        view = self.view
        image = np.empty((view.height, view.width, 3), np.float32)
        image[:] = (70, 72, 76)  # the shelf unit's back and frame
        for index, texture in enumerate(products):
            left = view.margin + index * view.lane_px
            for column in range(3):
                fx0 = left + 3 + column * (view.lane_px - 6) / 3
                fx1 = fx0 + (view.lane_px - 6) / 3 - 2
                textured_box(image, fx0, view.shelf_top + 4, fx1, view.shelf_bottom - 2, texture)
        image[view.shelf_bottom : view.shelf_bottom + 6] = (185, 185, 180)  # the shelf's front edge
        rows = np.arange(view.shelf_bottom + 6, view.height, dtype=np.float32)
        image[view.shelf_bottom + 6 :] = (140 + 0.15 * (rows - rows[0]))[:, None, None] * np.array(
            [1.0, 0.98, 0.93], np.float32
        )
        return image

    def _cart(self, image: np.ndarray, cart: Cart) -> None:
        sx, sy = self._px_per_mm(cart.x_mm, cart.y_mm)
        u, v = self.calibration.to_image(cart.x_mm, cart.y_mm)
        w, h = 500 * sx, 800 * sy
        box = _clip_box(image, u - w / 2, v - h, u + w / 2, v)
        if box is None:
            return
        x0, y0, x1, y1 = box
        yy, xx = np.mgrid[y0:y1, x0:x1]
        grid = ((xx - x0) % 5 == 0) | ((yy - y0) % 5 == 0) | (xx == x0) | (xx == x1 - 1) | (yy == y0) | (yy == y1 - 1)
        _paint(image, grid, (120, 125, 130), y0, x0)

    def _person(self, image: np.ndarray, person: Person) -> None:
        """Seen from above: shoulders and head over the feet, an arm up into a lane."""
        view = self.view
        sx, sy = self._px_per_mm(person.x_mm, person.y_mm)
        u, v = self.calibration.to_image(person.x_mm, person.y_mm)
        ellipse(image, u, v, 230 * sx, 200 * sy, person.clothes)
        if person.reach is not None:
            reach = person.reach
            roi = view.roi(reach.lane_index)
            hand = (
                roi.x0 + 6 + reach.across * (roi.x1 - roi.x0 - 12),
                view.shelf_bottom - 4 - reach.depth * (view.roi_rows - 12),
            )
            shoulder = (u + (150 if hand[0] > u else -150) * sx, v - 60 * sy)
            elbow = (0.5 * (shoulder[0] + hand[0]), 0.5 * (shoulder[1] + hand[1]))
            capsule(image, shoulder, elbow, 50 * sx, tuple(int(c * 0.85) for c in person.clothes))  # type: ignore[arg-type]
            capsule(image, elbow, hand, 38 * sx, person.skin)
            if reach.item_texture is not None:
                size = 100 * sx
                textured_box(image, hand[0] - size / 2, hand[1] - size * 0.8, hand[0] + size / 2, hand[1] + size * 0.4,
                             reach.item_texture)  # fmt: skip
            ellipse(image, hand[0], hand[1] + (0.3 * size if reach.item_texture is not None else 0.0),
                    45 * sx, 45 * sx, person.skin)  # fmt: skip
        if person.lean_lane is None:  # the head over the shoulders, inside their outline from above
            ellipse(image, u, v - 40 * sy, 95 * sx, 140 * sy, person.hair)
        else:
            roi = view.roi(person.lean_lane)
            ellipse(image, (roi.x0 + roi.x1) / 2, view.shelf_bottom - 4, 95 * sx, 95 * sx, person.hair)

    def render(self, spec: FrameSpec) -> np.ndarray:
        """The frame as HxWx3 uint8, RGB."""
        image = self._background(spec.products)
        for cart in spec.carts:
            self._cart(image, cart)
        for person in sorted(spec.people, key=lambda p: p.y_mm):  # nearer the camera is drawn later
            self._person(image, person)
        yy, xx = np.mgrid[0 : self.view.height, 0 : self.view.width]
        for shadow in spec.shadows:
            inside = (xx - shadow.u) ** 2 + (yy - shadow.v) ** 2 <= shadow.radius**2
            image[inside] *= shadow.depth
        light = spec.lighting
        image *= light.gain * np.asarray(light.cast, np.float32)
        if light.gradient:
            image *= (1 + light.gradient * (xx / self.view.width - 0.5))[:, :, None]
        if light.blur > 1:
            kernel = np.ones(light.blur, np.float32) / light.blur
            image = np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, image)
        rng = np.random.default_rng(spec.seed)
        image += rng.normal(0.0, light.noise, image.shape).astype(np.float32)
        return np.clip(image, 0, 255).astype(np.uint8)


def lane_states(spec: FrameSpec, lanes: int) -> list[int]:
    """Ground truth per lane: 0 no hand, 1 an empty hand, 2 a hand holding an item."""
    states = [0] * lanes
    for person in spec.people:
        if person.reach is not None:
            states[person.reach.lane_index] = 2 if person.reach.item_texture is not None else 1
    return states
