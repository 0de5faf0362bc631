"""Camera node: frame sources, the hand-in-lane model, lane interactions and people presence."""
