"""What a weight change on a lane was: which products, how many. Pure.

A pick (the lane got lighter) is explained from what the lane holds: its planogram product,
and on top of it whatever was put back there by mistake, which a shopper reaches first. A
put-back (heavier) is explained from the shopper's own cart. Items keep the weight the
shelves measured them at (`Item`): two products of one nominal weight are still two cans of
slightly different weights, so a can put back, or taken from where it was misplaced, is
told apart by its own weight where the product's would not. Every hypothesis is scored by
how well its weight fits the change, a Gaussian whose spread adds each item's
item-to-item spread to the shelf's measurement noise, times a prior: fewer items at once
are likelier, and an item goes back to its own lane far more often than to any one other
lane: a shopper who puts it back elsewhere could have chosen any of the store's lanes.
A change that no hypothesis fits is left unexplained (a hand resting on the shelf, or
something foreign put down), so the caller can hold it against the change that follows.
"""

import math
from dataclasses import dataclass
from typing import Final

from gateway.layout import Product

MAX_ITEMS: Final = 6  # the most items one grab is taken to move
# Prior weight of moving n items in one grab (index n).
COUNT_PRIOR: Final = (0.0, 1.0, 0.25, 0.08, 0.03, 0.01, 0.005)
MISPLACED_FIRST: Final = 0.7  # a misplaced item lies on top: the next hand takes it first
WRONG_LANE: Final = 0.3  # of put-backs, the share that go to a lane not the item's own (a high guess)
FLOOR_MG: Final = 1_000  # measurement spread no change is read better than
UNEXPLAINED_Z: Final = 4.0  # a hypothesis this many spreads off counts as no fit at all


@dataclass(frozen=True, slots=True)
class Item:
    """One item and what is known of its own weight: the shelves' measurement of it, or its
    product's mean and spread where it was never weighed alone."""

    sku: str
    mg: float
    var_mg2: float

    @classmethod
    def unweighed(cls, product: Product) -> "Item":
        return cls(product.sku, float(product.unit_mg), float(product.spread_mg**2))

    def weighed_again(self, mg: float, var_mg2: float) -> "Item":
        """This item with a second measurement of it folded in."""
        total = 1 / self.var_mg2 + 1 / var_mg2
        return Item(self.sku, (self.mg / self.var_mg2 + mg / var_mg2) / total, 1 / total)


@dataclass(frozen=True, slots=True)
class Hypothesis:
    items: tuple[tuple[str, int], ...]  # (sku, count), counts positive
    score: float  # likelihood times prior, unnormalised
    z: float  # how many spreads the weight is off


def _fit(delta_mg: float, mean_mg: float, var_mg2: float) -> tuple[float, float]:
    sigma = math.sqrt(var_mg2)
    z = abs(delta_mg - mean_mg) / sigma
    return math.exp(-0.5 * z * z) / sigma, z


def noise_var(noise_mg: int) -> float:
    """The variance of one weight change the shelf reported with `noise_mg`."""
    floor = max(noise_mg, FLOOR_MG)
    return float(floor * floor)


def pick_hypotheses(taken_mg: int, noise_mg: int, planogram: Product, misplaced: list[Item]) -> list[Hypothesis]:
    """What `taken_mg` (positive) lifted off a lane holding `planogram` under a stack of
    `misplaced` items (the top last), best first."""
    hypotheses: list[Hypothesis] = []
    base_var = noise_var(noise_mg)
    top = list(reversed(misplaced))
    for j in range(len(top) + 1):
        above = top[:j]
        above_mean = sum(item.mg for item in above)
        above_var = sum(item.var_mg2 for item in above)
        prior_j = 1.0 if not top else (MISPLACED_FIRST if j else 1 - MISPLACED_FIRST)
        for q in range(MAX_ITEMS + 1 - j):
            n = j + q
            if n == 0:
                continue
            mean = above_mean + q * planogram.unit_mg
            var = base_var + above_var + q * planogram.spread_mg**2
            likelihood, z = _fit(taken_mg, mean, var)
            counts: dict[str, int] = {}
            for item in above:
                counts[item.sku] = counts.get(item.sku, 0) + 1
            if q:
                counts[planogram.sku] = counts.get(planogram.sku, 0) + q
            hypotheses.append(Hypothesis(tuple(sorted(counts.items())), likelihood * prior_j * COUNT_PRIOR[n], z))
    return _merged(hypotheses)


def putback_hypotheses(
    added_mg: int, noise_mg: int, cart: dict[str, list[Item]], catalogue: dict[str, Product], lane_sku: str, lanes: int
) -> list[Hypothesis]:
    """Which items of `cart` (sku: the items of it held) account for `added_mg` put onto a
    lane of `lane_sku`, in a store of `lanes` lanes, best first. Only single-product
    put-backs are considered, of up to MAX_ITEMS of one product: a hand puts back what it
    holds. One item put back is any one of those held, each by its own weight."""
    hypotheses: list[Hypothesis] = []
    base_var = noise_var(noise_mg)
    own_lane = (1 - WRONG_LANE) * max(lanes - 1, 1) / WRONG_LANE  # odds: its own lane against one other
    for sku, held in cart.items():
        product = catalogue[sku]
        for q in range(1, min(len(held), MAX_ITEMS) + 1):
            if q == 1:
                fitted = [_fit(added_mg, item.mg, base_var + item.var_mg2) for item in held]
                likelihood, z = sum(f[0] for f in fitted) / len(fitted), min(f[1] for f in fitted)
            else:
                likelihood, z = _fit(added_mg, q * product.unit_mg, base_var + q * product.spread_mg**2)
            prior = COUNT_PRIOR[q] * (own_lane if sku == lane_sku else 1.0)
            hypotheses.append(Hypothesis(((sku, q),), likelihood * prior, z))
    return _merged(hypotheses)


def _merged(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """Hypotheses that move the same items are one (a misplaced cola taken is a cola taken)."""
    best: dict[tuple[tuple[str, int], ...], Hypothesis] = {}
    for hypothesis in hypotheses:
        known = best.get(hypothesis.items)
        if known is None:
            best[hypothesis.items] = hypothesis
        else:
            best[hypothesis.items] = Hypothesis(
                hypothesis.items, known.score + hypothesis.score, min(known.z, hypothesis.z)
            )
    return sorted(best.values(), key=lambda h: -h.score)


def fits(hypothesis: Hypothesis) -> bool:
    return hypothesis.z < UNEXPLAINED_Z
