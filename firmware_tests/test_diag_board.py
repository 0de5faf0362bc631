"""storediag plugged straight into the shelf board: the MicroPython firmware on the unix
port, on a pty, found to be a board by what it streams, and its own commands."""

from firmware_tests.conftest import FirmwareBoard, storediag


def test_the_boards_own_commands(firmware: FirmwareBoard) -> None:
    firmware.plug()
    ident = storediag(firmware.link, "id")
    assert ident.returncode == 0, ident.stderr
    assert ident.stdout.split()[:3] == ["answer", "id", "rp2040"]
    assert storediag(firmware.link, "channels").stdout.split() == ["answer", "channels", "4"]
    assert storediag(firmware.link, "selftest").stdout.split() == ["answer", "selftest", "ok"]
    assert storediag(firmware.link, "rate", "80").stdout.split() == ["answer", "ok", "rate", "80"]


def test_read_sums_up_a_second_of_frames(firmware: FirmwareBoard) -> None:
    firmware.plug()
    done = storediag(firmware.link, "read")
    assert done.returncode == 0, done.stderr
    header, _, *rows = done.stdout.splitlines()
    assert header.split() == ["channel", "raw", "spread", "rejected", "sps", "dropped"]
    assert len(rows) == 4
    # The firmware voids a whole read when the host preempts a clock pulse (edge/mcu/main.py),
    # so a loaded machine may show rejected reads (test_mcu_firmware.py allows them too): on
    # every channel alike, and fewer than the frames of the second.
    rejected_per_channel = set()
    for row in rows:
        channel, raw, spread, rejected, sps, dropped = row.split()
        assert dropped == "0" and 8 <= int(sps) <= 12
        assert abs(int(raw) - [100_000, -5_000, 250_000, 2_000_000][int(channel)]) < 5_000
        rejected_per_channel.add(int(rejected))
    (rejected,) = rejected_per_channel
    assert rejected < int(sps)


def test_a_node_command_on_a_board_is_refused_with_what_it_has(firmware: FirmwareBoard) -> None:
    firmware.plug()
    done = storediag(firmware.link, "status")
    assert done.returncode == 1 and "the shelf board has no 'status'" in done.stderr
