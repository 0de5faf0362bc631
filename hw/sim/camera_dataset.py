"""Random rendered frames for training and checking the hand-in-lane model, with each
lane's crop and its true class (0 no hand, 1 an empty hand, 2 a hand holding an item).

Every frame is drawn from one seed, so a set is reproduced from its first seed alone.
Training uses product textures below HELD_OUT_TEXTURES; held-out sets use textures above
it and seeds far from training's, so they measure products and scenes never seen.
"""

import random

import numpy as np

from edge.camera.lanes import LaneCropper
from hw.sim.camera_render import (
    HELD_OUT_TEXTURES,
    Cart,
    FrameSpec,
    Lighting,
    Person,
    Reach,
    Renderer,
    Shadow,
    ShelfView,
    lane_states,
)

INPUT_SIZE = 32
CLASSES = ("empty", "hand", "item")


def _color(rng: random.Random, low: int, high: int) -> tuple[int, int, int]:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def random_person(rng: random.Random, view: ShelfView, lane_count: int, textures: tuple[int, ...]) -> Person:
    x = rng.uniform(view.shelf_x_mm - 200, view.shelf_x_mm + view.shelf_w_mm + 200)
    near = rng.random() < 0.7
    y = rng.uniform(view.shelf_y_mm + 150, view.shelf_y_mm + (600 if near else 1_500))
    skin_base = rng.randint(60, 235)
    skin = (skin_base, int(skin_base * rng.uniform(0.7, 0.85)), int(skin_base * rng.uniform(0.55, 0.75)))
    reach = None
    lean = None
    if near and rng.random() < 0.8:
        lane = rng.randrange(lane_count)
        holding = rng.random() < 0.5
        item = (textures[lane] if rng.random() < 0.7 else rng.choice(textures)) if holding else None
        reach = Reach(lane, rng.uniform(0.05, 0.95), rng.uniform(0.0, 1.0), item)
    elif near and rng.random() < 0.15:
        lean = rng.randrange(lane_count)
    return Person(x, y, _color(rng, 20, 230), skin, _color(rng, 10, 120), reach, lean)


def random_frame(seed: int, view: ShelfView, held_out: bool) -> FrameSpec:
    rng = random.Random(seed)
    base = HELD_OUT_TEXTURES if held_out else 0
    textures = tuple(base + rng.randrange(HELD_OUT_TEXTURES) for _ in view.lanes)
    people = tuple(random_person(rng, view, len(view.lanes), textures) for _ in range(rng.choice((0, 1, 1, 2, 2, 3))))
    carts = tuple(Cart(rng.uniform(0, view.shelf_w_mm), rng.uniform(500, 1_500)) for _ in range(rng.random() < 0.2))
    shadows = tuple(
        Shadow(
            rng.uniform(0, view.width), rng.uniform(0, view.shelf_bottom), rng.uniform(15, 50), rng.uniform(0.4, 0.8)
        )
        for _ in range(rng.random() < 0.3)
    )
    lighting = Lighting(
        gain=rng.uniform(0.55, 1.35),
        cast=(rng.uniform(0.85, 1.15), rng.uniform(0.9, 1.1), rng.uniform(0.85, 1.15)),
        gradient=rng.uniform(-0.4, 0.4),
        noise=rng.uniform(1.0, 8.0),
        blur=rng.choice((0, 0, 0, 2, 3, 5)),
    )
    return FrameSpec(textures, people, carts, shadows, lighting, seed)


def lane_samples(first_seed: int, frames: int, held_out: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(crops N x 32 x 32 x 3 uint8, classes N) from `frames` random frames, every lane of each."""
    view = ShelfView()
    renderer = Renderer(view)
    cropper = LaneCropper(view.rois(), INPUT_SIZE, (view.height, view.width))
    crops, labels = [], []
    for seed in range(first_seed, first_seed + frames):
        spec = random_frame(seed, view, held_out)
        crops.append(cropper.crop(renderer.render(spec)))
        labels += lane_states(spec, len(view.lanes))
    return np.concatenate(crops), np.asarray(labels, np.int64)
