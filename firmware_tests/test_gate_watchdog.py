"""The watchdog hook: pets while alive, the magic close on a clean stop."""

from pathlib import Path

from edge.gate.watchdog import NoWatchdog, open_watchdog


def test_a_device_watchdog_is_petted_and_disarmed_on_close(tmp_path: Path) -> None:
    device = tmp_path / "watchdog"
    device.touch()
    watchdog = open_watchdog(str(device))
    watchdog.pet()
    watchdog.pet()
    assert device.read_bytes() == b"\0\0"
    watchdog.close()
    assert device.read_bytes() == b"\0\0V"


def test_no_device_is_no_watchdog() -> None:
    watchdog = open_watchdog(None)
    assert isinstance(watchdog, NoWatchdog)
    watchdog.pet()
    watchdog.close()
