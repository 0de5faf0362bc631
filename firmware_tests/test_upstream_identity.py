"""upstream/identity.py: the nearest enrolment to a probe, as enrolments come and go."""

from edge.gate.palm import PalmEncoder
from edge.protocol.palm_template import PalmTemplate
from hw.sim.palm import capture, identity
from upstream.identity import Identities
from upstream.palm_enrol import enrol
from upstream.vault import Enrolment

ENCODER = PalmEncoder()


def captures(seed: int, first: int, count: int) -> list[PalmTemplate]:
    return [ENCODER.encode(capture(identity(seed), 100 * seed + c)).template for c in range(first, first + count)]


def test_nothing_enrolled_has_no_nearest() -> None:
    assert Identities([]).nearest(captures(1, 0, 1)[0]) is None


def test_the_nearest_is_the_palms_own_enrolment_and_leaves_with_its_account() -> None:
    people = {f"acct-{seed}": seed for seed in (31, 32, 33)}
    identities = Identities(
        [Enrolment(i, account, enrol(captures(seed, 0, 3))) for i, (account, seed) in enumerate(people.items())]
    )
    assert len(identities) == 3
    for account, seed in people.items():
        found = identities.nearest(captures(seed, 5, 1)[0])
        assert found is not None and found.account == account
        assert found.distance < 0.23 and found.score_pm == round((1 - found.distance) * 1000)
    identities.remove({"acct-32"})
    stranger = identities.nearest(captures(32, 5, 1)[0])
    assert stranger is not None and stranger.account != "acct-32" and stranger.distance > 0.3
    identities.add(Enrolment(9, "acct-32b", enrol(captures(32, 0, 3))))
    back = identities.nearest(captures(32, 6, 1)[0])
    assert back is not None and (back.enrolment_id, back.account) == (9, "acct-32b")
