"""`storediag`, the technicians' side of the diagnostics console: a node's console or a
shelf board reached over a serial port, one-shot commands, an interactive shell and live
readouts. Runs on the technician's laptop (or on a node, against another one)."""
