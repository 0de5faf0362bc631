"""Hardware: board definitions, drivers, and `hw.sim`, the simulated hardware behind the same interfaces."""
