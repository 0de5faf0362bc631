"""Lane calibration: tare, span with a known mass, refusals, and the file on the node."""

import random
from pathlib import Path

import pytest

from edge.protocol.configfile import ConfigError
from edge.shelf.calibration import CalibrationError, CalibrationStore, LaneCalibration, span, tare

OFFSET, COUNTS_PER_G = 85_000, 420.0


def readings(level_g: float, n: int = 20, noise_counts: float = 30, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    return [round(OFFSET + level_g * COUNTS_PER_G + rng.gauss(0, noise_counts)) for _ in range(n)]


def test_tare_then_span_gives_weights_within_a_gram() -> None:
    calibration = tare(LaneCalibration(offset=0, counts_per_g=1.0), readings(0))
    calibration = span(calibration, readings(500, seed=2), known_mg=500_000, now_ms=7)
    assert abs(calibration.counts_per_g - COUNTS_PER_G) < 1
    assert abs(calibration.weight_mg(round(OFFSET + 1234 * COUNTS_PER_G)) - 1_234_000) < 1_000
    assert (calibration.known_mg, calibration.calibrated_ms) == (500_000, 7)


def test_tare_keeps_the_scale() -> None:
    calibration = tare(LaneCalibration(offset=1, counts_per_g=COUNTS_PER_G), readings(0))
    assert calibration.counts_per_g == COUNTS_PER_G and abs(calibration.offset - OFFSET) < 30


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda c: tare(c, readings(0, noise_counts=5_000)), "not still"),
        (lambda c: tare(c, readings(0, n=3)), "at least 5"),
        (lambda c: span(c, readings(1), 500_000, 0), "only"),
        (lambda c: span(c, readings(500), 0, 0), "positive"),
    ],
)
def test_untrustworthy_readings_are_refused(action, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CalibrationError, match=message):
        action(LaneCalibration(offset=OFFSET, counts_per_g=COUNTS_PER_G))


def test_the_store_round_trips_and_refuses_bad_files(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "state" / "calibration.toml")
    assert store.load() == {}
    lanes = {0: LaneCalibration(OFFSET, COUNTS_PER_G, 500_000, 9), 3: LaneCalibration(-12, 399.5)}
    store.save(lanes)
    assert store.load() == lanes
    assert not (tmp_path / "state" / "calibration.toml.tmp").exists()
    store.path.write_text("[lane.x]\noffset = 1\ncounts_per_g = 2.0\n")
    with pytest.raises(ConfigError, match="lane numbers"):
        store.load()
    store.path.write_text('[lane.0]\noffset = "one"\ncounts_per_g = 2.0\n')
    with pytest.raises(ConfigError, match="calibration.toml"):
        store.load()
