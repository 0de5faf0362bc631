"""The load-cell model: rated output, zero offset and temperature effects, and the
calibration its datasheet figures predict behind an HX711."""

import pytest

from hw.sim.load_cell import LoadCell


def test_rated_output_at_capacity_and_zero_offset_when_empty() -> None:
    cell = LoadCell(capacity_g=10_000, rated_mv_per_v=2.0, excitation_v=5.0, zero_mv=0.1)
    assert cell.volts(0) == pytest.approx(0.1e-3)
    assert cell.volts(10_000_000) == pytest.approx(0.1e-3 + 10e-3)


def test_temperature_moves_zero_and_span_by_their_coefficients() -> None:
    cell = LoadCell(capacity_g=10_000, zero_mv=0.0, zero_tc_fs_ppm_per_c=10, span_tc_ppm_per_c=20)
    assert cell.volts(0, temp_c=30) == pytest.approx(10e-3 * 10e-6 * 10)
    loaded = cell.volts(5_000_000, temp_c=30) - cell.volts(0, temp_c=30)
    assert loaded == pytest.approx(5e-3 * (1 + 20e-6 * 10))


def test_nominal_calibration_reads_a_load_back_behind_an_hx711_at_gain_128() -> None:
    cell = LoadCell()
    calibration = cell.nominal_calibration()
    counts = round(cell.volts(1_234_000) / (2.5 / 128) * (1 << 23))
    assert abs(calibration.weight_mg(counts) - 1_234_000) < 50
    assert 80 < calibration.counts_per_g < 90  # 50 kg at 2 mV/V behind gain 128
