"""The gate's palm encoder: a region of interest to a two-scale Competitive Code that tells
palms apart."""

import numpy as np
import pytest

from edge.gate.palm import ROI, PalmEncoder, gabor_bank
from hw.sim.palm import CaptureConditions, capture, identity, presentation_attack
from upstream.palm_match import distance

ENCODER = PalmEncoder()


def test_the_filters_are_zero_mean_and_each_answers_its_own_orientation_of_line() -> None:
    bank = gabor_bank(0.25, 2.78, 16)
    assert bank.shape == (6, 33, 33)
    assert np.allclose(bank.sum(axis=(1, 2)), 0.0, atol=1e-9)
    for k in range(6):  # a dark line through the centre at angle k*30 degrees
        y, x = np.mgrid[-16:17, -16:17]
        theta = k * np.pi / 6
        line = -(np.abs(-x * np.sin(theta) + y * np.cos(theta)) < 1.5).astype(float)
        answers = (bank * line).sum(axis=(1, 2))
        assert int(np.argmin(answers)) == k


def test_captures_of_one_palm_match_and_of_others_do_not() -> None:
    codes = {(i, c): ENCODER.encode(capture(identity(i), 100 * i + c)).template for i in range(6) for c in range(3)}
    genuine = [distance(codes[(i, 0)], codes[(i, c)]) for i in range(6) for c in (1, 2)]
    impostor = [distance(codes[(i, 0)], codes[(j, 0)]) for i in range(6) for j in range(6) if i != j]
    assert max(genuine) < min(impostor)
    assert 0.85 <= codes[(0, 0)].coverage < 1.0, "cells weak at both scales are masked"


def test_a_sharp_capture_scores_higher_quality_than_a_smeared_one() -> None:
    palm = identity(9)
    sharp = ENCODER.encode(capture(palm, 1, CaptureConditions(blur_px=0.3))).quality_pm
    smeared = ENCODER.encode(capture(palm, 1, CaptureConditions(blur_px=6.0))).quality_pm
    assert 0 <= smeared < sharp <= 1000


def test_a_region_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match=f"{ROI} x {ROI}"):
        ENCODER.encode(np.zeros((64, 64), np.uint8))


def test_no_palm_at_all_scores_no_quality() -> None:
    skin = np.random.default_rng(0).normal(128, 5, (ROI, ROI)).clip(0, 255).astype(np.uint8)
    assert ENCODER.encode(skin).quality_pm < 100


def test_live_palms_score_live_and_prints_and_screens_do_not() -> None:
    for seed in range(8):
        palm = identity(40 + seed)
        assert ENCODER.encode(capture(palm, seed)).live_pm >= 700
        assert ENCODER.encode(presentation_attack(palm, seed, "print")).live_pm < 300
        assert ENCODER.encode(presentation_attack(palm, seed, "screen")).live_pm < 300
