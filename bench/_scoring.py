"""Helpers the benchmark scripts share."""


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of them lie (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
