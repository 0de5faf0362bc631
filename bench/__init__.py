"""Benchmarks: each script in this folder prints its figures and, as its last line, one JSON
object (`make bench` runs them all). Modules starting with an underscore are shared helpers."""
