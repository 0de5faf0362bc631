"""Synthetic palms: identities from seeds, captures that vary like a hand on a sensor."""

import numpy as np

from hw.sim.palm import SIZE, CaptureConditions, capture, identity, presentation_attack


def test_the_same_seeds_give_the_same_capture_and_new_seeds_another() -> None:
    palm = identity(7)
    first = capture(palm, 1)
    assert first.shape == (SIZE, SIZE) and first.dtype == np.uint8
    assert np.array_equal(first, capture(identity(7), 1))
    assert not np.array_equal(first, capture(palm, 2))


def test_identities_differ_in_their_creases() -> None:
    a, b = identity(1), identity(2)
    assert a.principal != b.principal and len(a.secondary) >= 5 and len(b.secondary) >= 5
    assert all(0 <= v <= 1 for crease in a.principal for v in (*crease.head, *crease.tail))


def test_creases_are_dark_lines_on_skin() -> None:
    image = capture(identity(3), 0, CaptureConditions(noise=0.0, light=0.0, blur_px=0.3)).astype(float)
    dark = image < np.median(image) - 40
    assert 0.02 < dark.mean() < 0.25, "lines cover a small part of the palm"


def test_two_captures_of_a_palm_are_closer_than_captures_of_two_palms() -> None:
    def blurred(img: np.ndarray) -> np.ndarray:
        return img.astype(float) - img.mean()

    same = np.corrcoef(blurred(capture(identity(4), 0)).ravel(), blurred(capture(identity(4), 1)).ravel())[0, 1]
    other = np.corrcoef(blurred(capture(identity(4), 0)).ravel(), blurred(capture(identity(5), 0)).ravel())[0, 1]
    assert same > other + 0.2


def test_a_presentation_attack_shows_the_palm_with_a_periodic_pattern_over_it() -> None:
    palm = identity(5)
    for kind in ("print", "screen"):
        spoof = presentation_attack(palm, 1, kind)
        assert spoof.shape == (SIZE, SIZE) and spoof.dtype == np.uint8
        assert np.array_equal(spoof, presentation_attack(palm, 1, kind))
        live = capture(palm, 1).astype(float)
        assert np.corrcoef(spoof.astype(float).ravel(), live.ravel())[0, 1] > 0.3, "it is still this palm"
