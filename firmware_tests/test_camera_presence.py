"""People on the floor from rendered frames: where they stand, not carts, through drifting light."""

import math

from edge.camera.presence import PresenceConfig, PresenceDetector
from hw.sim.camera_render import Cart, FrameSpec, Lighting, Person, Renderer, ShelfView

VIEW = ShelfView()
PRODUCTS = (3, 17, 42, 99)


def detector() -> tuple[Renderer, PresenceDetector]:
    renderer = Renderer(VIEW)
    presence = PresenceDetector(VIEW.calibration(), PresenceConfig(floor_top=VIEW.shelf_bottom + 6))
    assert presence.add(renderer.render(FrameSpec(PRODUCTS, seed=1))) == [], "the first frame starts the background"
    return renderer, presence


def test_one_person_anywhere_in_view_is_found_within_60_mm() -> None:
    renderer, presence = detector()
    for y in (150, 400, 800, 1200, 1450):
        for x in (80, 600, 1120):
            found = presence.add(renderer.render(FrameSpec(PRODUCTS, (Person(x, y),), seed=x + y)))
            assert len(found) == 1, f"person at {x}, {y}: {found}"
            fx, fy, conf = found[0]
            assert math.dist((fx, fy), (x, y)) < 60, f"person at {x}, {y} found at {fx}, {fy}"
            assert 0 < conf <= 1000


def test_two_people_apart_are_two_and_a_cart_is_nobody() -> None:
    renderer, presence = detector()
    spec = FrameSpec(PRODUCTS, (Person(200, 400), Person(1050, 450)), carts=(Cart(650, 1550),), seed=4)
    found = sorted(presence.add(renderer.render(spec)))
    assert len(found) == 2
    assert math.dist(found[0][:2], (200, 400)) < 60 and math.dist(found[1][:2], (1050, 450)) < 60


def test_light_drifting_through_the_day_makes_nobody() -> None:
    renderer, presence = detector()
    for n in range(150):  # 6 % darker over 30 s at 5 frames a second
        frame = renderer.render(FrameSpec(PRODUCTS, lighting=Lighting(gain=1.0 - 0.0004 * n), seed=10 + n))
        assert presence.add(frame) == [], f"frame {n}"


def test_lights_switched_make_nobody_and_people_are_found_again_after() -> None:
    renderer, presence = detector()
    dim = Lighting(gain=0.6)
    assert presence.add(renderer.render(FrameSpec(PRODUCTS, lighting=dim, seed=2))) == []
    found = presence.add(renderer.render(FrameSpec(PRODUCTS, (Person(600, 700),), lighting=dim, seed=3)))
    assert len(found) == 1 and math.dist(found[0][:2], (600, 700)) < 60
