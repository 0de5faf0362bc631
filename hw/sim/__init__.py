"""Simulated hardware and simulated devices, for the demo, the tests and the benchmarks."""
