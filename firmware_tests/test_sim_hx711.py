"""The HX711 model against its datasheet, on a clock the test controls."""

import pytest

from hw.sim.hx711 import FULL_SCALE, PERIOD_NS, SETTLING_NS, Config, Hx711Chip

MS = 1_000_000
US = 1_000


class Clock:
    def __init__(self) -> None:
        self.t = 0

    def __call__(self) -> int:
        return self.t

    def advance(self, ns: int) -> None:
        self.t += ns


def chip_at(volts_a: float, volts_b: float = 0.0, rate: int = 10) -> tuple[Hx711Chip, Clock]:
    clock = Clock()
    chip = Hx711Chip(lambda channel, t: volts_a if channel == "A" else volts_b, rate, seed=3, clock=clock)
    return chip, clock


def read(chip: Hx711Chip, clock: Clock, pulses: int = 25, high_ns: int = US) -> int:
    """Clock out one conversion the way a careful driver does: 1 us high, 1 us low per pulse."""
    value = 0
    for n in range(pulses):
        chip.sck(True)
        clock.advance(high_ns)
        chip.sck(False)
        if n < 24:
            value = (value << 1) | chip.dout()
        clock.advance(US)
    return value


def signed(raw: int) -> int:
    return raw - (1 << 24) if raw & 0x800000 else raw


def expected(volts: float, gain: int) -> int:
    return round(volts / (2.5 / gain) * FULL_SCALE)


@pytest.mark.parametrize("rate", [10, 80])
def test_data_is_ready_only_after_the_settling_time(rate: int) -> None:
    chip, clock = chip_at(0.001, rate=rate)
    clock.advance(SETTLING_NS[rate] - 1)
    assert chip.dout() == 1
    clock.advance(1)
    assert chip.dout() == 0


@pytest.mark.parametrize("volts", [0.004, -0.004, 0.0])
def test_24_pulses_shift_out_twos_complement_msb_first(volts: float) -> None:
    chip, clock = chip_at(volts)
    clock.advance(SETTLING_NS[10])
    value = signed(read(chip, clock))
    assert abs(value - expected(volts, 128)) < 200  # 50 nV rms of noise is ~21 counts
    assert chip.dout() == 1, "the 25th pulse pulls DOUT high until the next conversion"


def test_the_next_conversion_is_ready_one_period_later() -> None:
    chip, clock = chip_at(0.001)
    clock.advance(SETTLING_NS[10])
    read(chip, clock)
    clock.advance(PERIOD_NS[10] - 60 * US)
    assert chip.dout() == 1
    clock.advance(60 * US)
    assert chip.dout() == 0


@pytest.mark.parametrize(
    ("pulses", "config", "volts_a", "volts_b"),
    [(26, Config.B32, 0.001, 0.02), (27, Config.A64, 0.006, 0.0), (25, Config.A128, 0.006, 0.0)],
)
def test_the_pulse_count_selects_channel_and_gain_for_the_next_conversion(
    pulses: int, config: Config, volts_a: float, volts_b: float
) -> None:
    chip, clock = chip_at(volts_a, volts_b)
    clock.advance(SETTLING_NS[10])
    read(chip, clock, pulses)
    clock.advance(PERIOD_NS[10])
    assert chip.dout() == 1 or config is Config.A128, "a change of channel or gain settles again"
    clock.advance(SETTLING_NS[10])
    assert chip.config is config
    value = signed(read(chip, clock))
    volts = volts_b if config.channel == "B" else volts_a
    assert abs(value - expected(volts, config.gain)) < 400


@pytest.mark.parametrize("pulses", [24, 28])
def test_a_wrong_pulse_count_is_a_serial_error_and_changes_nothing(pulses: int) -> None:
    chip, clock = chip_at(0.001)
    clock.advance(SETTLING_NS[10])
    read(chip, clock, pulses)
    clock.advance(PERIOD_NS[10])
    assert chip.dout() == 0
    assert chip.config is Config.A128 and chip.stats.serial_errors == 1


def test_clock_high_over_60_us_powers_down_and_low_again_resets_to_a128() -> None:
    chip, clock = chip_at(0.006)
    clock.advance(SETTLING_NS[10])
    read(chip, clock, 27)
    clock.advance(PERIOD_NS[10] + SETTLING_NS[10])
    assert chip.config is Config.A64
    chip.sck(True)
    clock.advance(61 * US)
    assert chip.dout() == 1, "powered down"
    chip.sck(False)
    assert chip.config is Config.A128 and chip.stats.power_downs == 1
    clock.advance(SETTLING_NS[10] - 1)
    assert chip.dout() == 1, "settling again after the reset"
    clock.advance(1)
    assert abs(signed(read(chip, clock)) - expected(0.006, 128)) < 200


def test_a_power_down_mid_read_leaves_trailing_ones_never_a_plausible_value() -> None:
    chip, clock = chip_at(0.001)
    clock.advance(SETTLING_NS[10])
    value = 0
    for n in range(24):
        chip.sck(True)
        clock.advance(80 * US if n == 8 else US)
        chip.sck(False)
        value = (value << 1) | chip.dout()
        clock.advance(US)
    assert value & 0x7FFF == 0x7FFF, "after the reset DOUT reads high: every later bit is 1"


def test_input_beyond_full_scale_saturates() -> None:
    chip, clock = chip_at(1.0)
    clock.advance(SETTLING_NS[10])
    assert read(chip, clock) == 0x7FFFFF


def test_clocking_while_not_ready_is_counted_and_ignored() -> None:
    chip, clock = chip_at(0.001)
    chip.sck(True)
    chip.sck(False)
    assert chip.stats.serial_errors == 1
    clock.advance(SETTLING_NS[10])
    assert chip.dout() == 0
