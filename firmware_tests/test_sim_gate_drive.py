"""A gate's drive acted out: codes shown on time, in only through an opened barrier, out freely.
The lane here is a stand-in with the three things the player uses of the simulated lane
(its scanner, its walking shoppers, and the releases it has seen); the real lane is driven
end to end by the demo's test."""

import threading
from dataclasses import dataclass, field
from typing import cast

from edge.protocol.clock import wall_ms
from firmware_tests.conftest import wait_until
from hw.sim.gate_drive import GateDrivePlayer
from hw.sim.gate_lane import SimGateLane
from hw.sim.world.drives import GateAct, GateDrive


@dataclass
class StandInLane:
    opens: bool  # whether the gate answers a code by releasing the barrier
    releases: list[int] = field(default_factory=list)
    done: list[tuple[str, str, int]] = field(default_factory=list)  # (what, detail, wall ms)

    def scan(self, token: str) -> None:
        self.done.append(("scan", token, wall_ms()))
        if self.opens:
            threading.Timer(0.05, lambda: self.releases.append(wall_ms())).start()

    def walk(self, direction: str = "in") -> None:
        self.done.append(("walk", direction, wall_ms()))


def play(lane: StandInLane, acts: list[GateAct], patience_s: float) -> GateDrivePlayer:
    """Play the acts from 100 ms from now to the last, with `patience_s` at the barrier."""
    drive = GateDrive(wall_ms() + 100, acts)
    player = GateDrivePlayer(cast(SimGateLane, lane), drive, open_within_s=patience_s).start()
    wait_until(lambda: not player._thread.is_alive(), 30, "the last act played")
    return player


def test_a_shopper_shows_their_code_on_time_walks_in_once_it_opens_and_out_later() -> None:
    lane = StandInLane(opens=True)
    started = wall_ms()
    # patient: a gate that opens is never taken for one that does not on a slow machine
    play(lane, [GateAct(0, "show", 1, "code-1"), GateAct(20, "in", 1), GateAct(400, "out", 1)], patience_s=30)
    assert [(what, detail) for what, detail, _ in lane.done] == [("scan", "code-1"), ("walk", "in"), ("walk", "out")]
    scanned, walked_in, walked_out = (at for _, _, at in lane.done)
    assert scanned >= started + 100 - 5
    assert walked_in >= lane.releases[0], "nobody walks into a closed barrier"
    assert walked_out >= started + 500 - 5


def test_a_shopper_the_gate_does_not_open_for_stays_outside() -> None:
    lane = StandInLane(opens=False)
    player = play(lane, [GateAct(0, "show", 7, "code-7"), GateAct(20, "in", 7), GateAct(100, "out", 7)], patience_s=0.5)
    assert [what for what, _, _ in lane.done] == ["scan"]
    assert player.refused == [7]
