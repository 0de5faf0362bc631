"""The shelf node: load-cell sample sources (RP2040 board over serial, HX711 on GPIO, or
simulated), calibration, and the detector that turns lane weights into `weight` events."""
