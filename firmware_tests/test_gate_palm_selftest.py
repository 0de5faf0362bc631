"""The palm pipeline's self-test: its reference palm passes, and the test fails an encoder
that would pass a print."""

import numpy as np

from edge.gate.palm import PalmCode, PalmEncoder
from edge.gate.palm_selftest import printed, reference_palm, self_test


def test_the_reference_palm_passes_the_gates_thresholds() -> None:
    result = self_test(PalmEncoder(), min_quality_pm=300, min_live_pm=500)
    assert result.passed and result.repeatable
    assert result.quality_pm >= 800 and result.live_pm >= 900 and result.print_live_pm < 200


def test_the_reference_palm_is_the_same_every_time() -> None:
    assert np.array_equal(reference_palm(), reference_palm())
    assert not np.array_equal(printed(reference_palm()), reference_palm())


class BlindToPrints(PalmEncoder):
    def encode(self, roi: np.ndarray) -> PalmCode:
        code = super().encode(roi)
        return PalmCode(code.template, code.quality_pm, 1000)


class Unsteady(PalmEncoder):
    def __init__(self) -> None:
        super().__init__()
        self._calls = 0

    def encode(self, roi: np.ndarray) -> PalmCode:
        self._calls += 1
        return super().encode(np.roll(roi, self._calls * 8, axis=1))


def test_an_encoder_that_passes_prints_or_wanders_fails_the_test() -> None:
    assert not self_test(BlindToPrints(), 300, 500).passed
    unsteady = self_test(Unsteady(), 300, 500)
    assert not unsteady.passed and not unsteady.repeatable


def test_thresholds_above_what_the_reference_palm_reaches_fail_it() -> None:
    assert not self_test(PalmEncoder(), min_quality_pm=1001, min_live_pm=500).passed
