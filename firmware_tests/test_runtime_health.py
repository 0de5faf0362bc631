"""SoC temperature for health messages: tenths of a degree, or TEMP_UNKNOWN."""

from pathlib import Path

import pytest

from edge.runtime.health import TEMP_UNKNOWN, read_soc_temp_c10


def thermal(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "temp"
    path.write_bytes(content)
    return path


def test_unknown_is_the_int16_minimum() -> None:
    assert TEMP_UNKNOWN == -32768


def test_millidegrees_become_tenths(tmp_path: Path) -> None:
    assert read_soc_temp_c10(thermal(tmp_path, b"48250\n")) == 482


@pytest.mark.parametrize(
    ("content", "c10"),
    [(b"48250", 482), (b"0\n", 0), (b"  51000  \n", 510), (b"100", 1), (b"99", 0), (b"-5000\n", -50)],
)
def test_readings(tmp_path: Path, content: bytes, c10: int) -> None:
    assert read_soc_temp_c10(thermal(tmp_path, content)) == c10


def test_extreme_readings_are_clamped_away_from_unknown(tmp_path: Path) -> None:
    assert read_soc_temp_c10(thermal(tmp_path, b"999999999")) == 32767
    assert read_soc_temp_c10(thermal(tmp_path, b"-999999999")) == -32767


def test_missing_file(tmp_path: Path) -> None:
    assert read_soc_temp_c10(tmp_path / "thermal_zone0" / "temp") == TEMP_UNKNOWN


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage", b"48.25", b"48250 48300", b"\xff\xfe\x00", b"0x10"],
    ids=["empty", "text", "decimal", "two-numbers", "binary", "hex"],
)
def test_garbage(tmp_path: Path, content: bytes) -> None:
    assert read_soc_temp_c10(thermal(tmp_path, content)) == TEMP_UNKNOWN


def test_directory_is_unknown(tmp_path: Path) -> None:
    assert read_soc_temp_c10(tmp_path) == TEMP_UNKNOWN
