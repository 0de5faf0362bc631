"""A gate node run in this process on a simulated lane, so that a test, a benchmark or the
demo can present palms, scan codes and walk shoppers through while the node talks to the
real broker exactly as `storenode run` would."""

import queue
import threading
from pathlib import Path
from typing import Any

from edge.gate.app import GateApp
from edge.gate.io import GateIo, open_gate_io
from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.keys import load_public_key
from edge.runtime.config import load_node_config
from edge.runtime.node import Node
from hw.sim.gate_lane import SimGateLane


class InProcessGate:
    def __init__(self, config_path: Path) -> None:
        config, base = load_node_config(config_path)
        if config.gate is None or config.keys.upstream_seal is None or config.hardware.backend != "sim":
            raise ConfigError(f"{config_path} is not a simulated gate node")
        self.node = Node(config, base)
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._io: GateIo = open_gate_io(config.gate, "sim", self.node.now, self._inbox.put)
        assert self._io.lane is not None
        self.lane: SimGateLane = self._io.lane
        upstream = load_public_key(resolve(base, config.keys.upstream_seal))
        self.app = GateApp(self.node, config.gate, self._io, self._inbox, upstream)
        self._stopping = threading.Event()
        self._runner = threading.Thread(target=self.app.run, args=(self._stopping,), name="gate-app", daemon=True)

    def start(self) -> "InProcessGate":
        self.node.start()
        self._runner.start()
        return self

    def stop(self) -> int:
        """Stop the app and the node; how many events are left in the node's spool."""
        self._stopping.set()
        self._runner.join(5)
        self._io.close()
        return self.node.stop()
