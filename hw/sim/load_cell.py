"""A strain-gauge load cell as its datasheet describes it: rated output (mV/V at capacity),
a zero offset, and temperature effects on zero and on span. Load in, bridge volts out.

Noise, creep and drift are properties of the load on the lane over time, and live in
hw/sim/shelf_activity.py; the HX711 adds its own input noise (hw/sim/hx711.py).
"""

from dataclasses import dataclass

from edge.shelf.calibration import LaneCalibration

REFERENCE_C = 20.0
FULL_SCALE = 1 << 23


@dataclass(frozen=True, slots=True)
class LoadCell:
    capacity_g: float = 50_000.0  # a lane holds up to a dozen 2 kg units on its tray
    rated_mv_per_v: float = 2.0
    excitation_v: float = 5.0
    zero_mv: float = 0.15  # bridge output with no load
    zero_tc_fs_ppm_per_c: float = 5.0  # zero shift, in ppm of full scale per degree
    span_tc_ppm_per_c: float = 5.0

    def volts(self, load_mg: float, temp_c: float = REFERENCE_C) -> float:
        full_scale_v = self.rated_mv_per_v * self.excitation_v / 1000
        warmer = temp_c - REFERENCE_C
        zero = self.zero_mv / 1000 + full_scale_v * self.zero_tc_fs_ppm_per_c * 1e-6 * warmer
        span = full_scale_v * (1 + self.span_tc_ppm_per_c * 1e-6 * warmer)
        return zero + span * load_mg / (self.capacity_g * 1000)

    def nominal_calibration(self, avdd: float = 5.0, gain: int = 128) -> LaneCalibration:
        """What the datasheet figures predict at 20 C behind an HX711 (AVDD, gain): the
        factory calibration before any tare or span on the shelf."""
        counts_per_v = FULL_SCALE / (0.5 * avdd / gain)
        offset = round(self.volts(0.0) * counts_per_v)
        per_g = (self.volts(1_000.0) - self.volts(0.0)) * counts_per_v
        return LaneCalibration(offset=offset, counts_per_g=per_g)
