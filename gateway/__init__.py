"""The in-store gateway: verifies and journals every device message, dedupes redelivery,
estimates device clocks, and raises alerts; later the fusion engine, the upstream link
and the operator state build on the journal."""
