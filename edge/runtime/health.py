"""Periodic health: uptime, spool depth, SoC temperature and counters, sent as a `health` event."""

from pathlib import Path

TEMP_UNKNOWN = -32768
_SOC_THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")


def read_soc_temp_c10(path: Path = _SOC_THERMAL) -> int:
    """The SoC temperature in tenths of a degree, or TEMP_UNKNOWN where the board has no sensor."""
    try:
        return max(-32767, min(32767, int(path.read_text().strip()) // 100))
    except (OSError, ValueError):
        return TEMP_UNKNOWN
