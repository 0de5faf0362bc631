"""Weight hypotheses: counts from the change, misplaced items on top, put-backs from the
shopper's own cart, and changes nothing explains."""

from gateway.fusion.products import Item, fits, pick_hypotheses, putback_hypotheses
from gateway.layout import Product

COLA = Product("cola", "Cola", 149, 355_000, 2_500)
CHIPS = Product("chips", "Chips", 249, 160_000, 2_500)
NUTS = Product("nuts", "Nuts", 399, 215_000, 2_500)
HAM = Product("ham", "Ham sandwich", 449, 210_000, 6_000)
COLA_ZERO = Product("cola-zero", "Cola zero", 149, 355_000, 2_500)
CATALOGUE = {p.sku: p for p in (COLA, COLA_ZERO, CHIPS, NUTS, HAM)}


def held(**counts: int) -> dict[str, list[Item]]:
    """A cart of items nobody weighed alone (sku names with _ for -)."""
    return {sku.replace("_", "-"): [Item.unweighed(CATALOGUE[sku.replace("_", "-")])] * n for sku, n in counts.items()}


def test_the_count_follows_the_weight() -> None:
    for count in (1, 2, 3, 5):
        best = pick_hypotheses(count * 355_000 + 900, 1_000, COLA, [])[0]
        assert best.items == (("cola", count),)
        assert fits(best)


def test_a_misplaced_item_on_top_is_told_apart_by_its_weight() -> None:
    assert pick_hypotheses(355_400, 1_000, CHIPS, [Item.unweighed(COLA)])[0].items == (("cola", 1),)
    assert pick_hypotheses(160_300, 1_000, CHIPS, [Item.unweighed(COLA)])[0].items == (("chips", 1),)
    assert pick_hypotheses(515_000, 1_000, CHIPS, [Item.unweighed(COLA)])[0].items == (("chips", 1), ("cola", 1))


def test_a_put_back_is_read_from_the_cart_and_favours_the_item_s_own_lane() -> None:
    cart = held(cola=2, chips=1)
    assert putback_hypotheses(160_500, 1_000, cart, CATALOGUE, "chips", 20)[0].items == (("chips", 1),)
    assert putback_hypotheses(710_000, 1_000, cart, CATALOGUE, "chips", 20)[0].items == (("cola", 2),)
    # two items of nearly one weight: the lane they go back to decides, the surer the more
    # lanes a wrong put-back could have gone to instead
    near = putback_hypotheses(212_000, 1_000, held(nuts=1, ham=1), CATALOGUE, "ham", 20)
    assert near[0].items == (("ham", 1),)
    assert near[0].score > 20 * near[1].score
    small = putback_hypotheses(212_000, 1_000, held(nuts=1, ham=1), CATALOGUE, "ham", 2)
    assert small[0].items == (("ham", 1),) and small[0].score < 20 * small[1].score
    # neither is this lane's: weight alone cannot tell them apart
    elsewhere = putback_hypotheses(355_000, 1_000, held(cola=1, cola_zero=1), CATALOGUE, "chips", 20)
    assert elsewhere[1].score > elsewhere[0].score / 2


def test_what_nothing_explains_does_not_fit() -> None:
    assert not fits(pick_hypotheses(250_000, 1_000, CHIPS, [])[0])  # a bag and a half
    put = putback_hypotheses(900_000, 1_000, held(chips=1), CATALOGUE, "chips", 20)
    assert put and not any(fits(h) for h in put)
    assert putback_hypotheses(160_000, 1_000, {}, CATALOGUE, "chips", 20) == []  # an empty cart puts nothing back


def test_items_of_one_nominal_weight_are_told_apart_by_their_own() -> None:
    """Two cans of one nominal weight, each weighed when it was taken: the one put back is
    the one whose own weight the change fits."""
    cart = {"cola": [Item("cola", 352_100, 1_000**2)], "cola-zero": [Item("cola-zero", 357_300, 1_000**2)]}
    put = putback_hypotheses(357_000, 1_000, cart, CATALOGUE, "chips", 20)
    assert put[0].items == (("cola-zero", 1),) and put[0].score > 5 * put[1].score


def test_a_second_weighing_sharpens_what_is_known_of_an_item() -> None:
    item = Item.unweighed(COLA).weighed_again(357_000, 1_000**2)
    assert 355_000 < item.mg < 357_000
    assert item.var_mg2 < 1_000**2
