"""Lane calibration: tare (the empty lane's raw count) and span (raw counts per gram, from a
known test mass), kept per lane in a TOML file on the node.

weight = (raw - offset) / counts_per_g. Tare and span refuse readings that are not stable
or too weak to trust, and change nothing then.
"""

import statistics
from pathlib import Path

import msgspec
import tomli_w

from edge.protocol.configfile import ConfigError, read_toml
from edge.protocol.filemodes import PRIVATE_FILE, make_dir
from edge.protocol.keys import write_file_atomic

# A reading set counts as stable when its spread is within this many counts (about 1 g on
# a typical 5 kg cell at gain 128: ~400 counts per gram).
STABLE_SPREAD_COUNTS = 400
# A span mass must move the reading by at least this much, or the scale factor is noise.
MIN_SPAN_COUNTS = 2_000


class CalibrationError(Exception):
    """A tare or span that cannot be trusted; the stored calibration is left as it was."""


class LaneCalibration(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    offset: int
    counts_per_g: float
    known_mg: int = 0
    calibrated_ms: int = 0

    def weight_mg(self, raw: int) -> int:
        return round((raw - self.offset) * 1000 / self.counts_per_g)


def _stable_median(readings: list[int], what: str) -> float:
    if len(readings) < 5:
        raise CalibrationError(f"{what} needs at least 5 readings, got {len(readings)}")
    spread = statistics.pstdev(readings)
    if spread > STABLE_SPREAD_COUNTS:
        raise CalibrationError(f"{what}: the lane is not still (spread {spread:.0f} counts); try again")
    return statistics.median(readings)


def tare(current: LaneCalibration, readings: list[int]) -> LaneCalibration:
    """The empty lane's reading becomes the new zero; the scale is kept."""
    offset = round(_stable_median(readings, "tare"))
    return msgspec.structs.replace(current, offset=offset)


def span(current: LaneCalibration, readings: list[int], known_mg: int, now_ms: int) -> LaneCalibration:
    """Counts per gram from the lane carrying exactly `known_mg` over its tared zero."""
    if known_mg <= 0:
        raise CalibrationError("the test mass must be positive")
    moved = _stable_median(readings, "span") - current.offset
    if abs(moved) < MIN_SPAN_COUNTS:
        raise CalibrationError(f"span: the test mass moved the reading by only {moved:.0f} counts; is it on the lane?")
    return msgspec.structs.replace(
        current, counts_per_g=moved * 1000 / known_mg, known_mg=known_mg, calibrated_ms=now_ms
    )


class _CalibrationFile(msgspec.Struct, forbid_unknown_fields=True):
    lane: dict[str, LaneCalibration] = {}


class CalibrationStore:
    """Per-lane calibration in one TOML file, replaced atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[int, LaneCalibration]:
        if not self.path.exists():
            return {}
        raw = read_toml(self.path, _CalibrationFile)
        try:
            return {int(lane): calibration for lane, calibration in raw.lane.items()}
        except ValueError:
            raise ConfigError(f"{self.path}: lane keys must be lane numbers") from None

    def save(self, lanes: dict[int, LaneCalibration]) -> None:
        document = {"lane": {str(lane): msgspec.to_builtins(cal) for lane, cal in sorted(lanes.items())}}
        make_dir(self.path.parent)
        write_file_atomic(self.path, tomli_w.dumps(document).encode(), PRIVATE_FILE)
