"""The store world's shoppers at a simulated gate lane (a gate's drive, hw/sim/world/drives.py),
acted out on the wall clock the drive shares with the store's other nodes: each shows their
app code when the world says, walks in once the barrier opens for them, and walks out when
they leave. Someone the gate refuses, or never answers, stays outside."""

import logging
import threading
import time
from collections.abc import Callable

from edge.protocol.clock import wall_ms
from hw.sim.gate_lane import SimGateLane
from hw.sim.world.drives import GateAct, GateDrive

log = logging.getLogger(__name__)

OPEN_WITHIN_S = 5.0  # how long a shopper waits at the barrier for it to open


class GateDrivePlayer:
    def __init__(
        self,
        lane: SimGateLane,
        drive: GateDrive,
        wall: Callable[[], int] = wall_ms,
        open_within_s: float = OPEN_WITHIN_S,
    ) -> None:
        self.lane = lane
        self.drive = drive
        self._wall = wall
        self._open_within_s = open_within_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._play, name="sim-gate-drive", daemon=True)
        self._shown: dict[int, int] = {}  # person: how many releases the lane had made when they showed
        self.refused: list[int] = []  # people the gate did not let in

    def start(self) -> "GateDrivePlayer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(self._open_within_s + 2)

    def _play(self) -> None:
        for act in self.drive.acts:
            delay = (self.drive.wall0_ms + act.t - self._wall()) / 1000
            if delay > 0 and self._stopping.wait(delay):
                return
            self._act(act)

    def _act(self, act: GateAct) -> None:
        if act.act == "show" and act.token is not None:
            self._shown[act.person] = len(self.lane.releases)
            self.lane.scan(act.token)
        elif act.act == "in":
            shown = self._shown.pop(act.person, None)
            deadline = time.monotonic() + self._open_within_s
            while shown is not None and len(self.lane.releases) <= shown and time.monotonic() < deadline:
                if self._stopping.wait(0.01):
                    return
            if shown is None or len(self.lane.releases) <= shown:
                log.warning("shopper %d: the gate did not open, they stay outside", act.person)
                self.refused.append(act.person)
                return
            self.lane.walk("in")
        elif act.act == "out" and act.person not in self.refused:
            self.lane.walk("out")
