"""Commands the gateway sends to nodes, stamped with the gateway's header and signed with its key."""

import threading

import msgspec
from nacl.signing import SigningKey

from edge.protocol.envelope import seal
from edge.protocol.messages import BootAnswer, Deny, Open, encode_message
from edge.protocol.topics import cmd_topic

GatewayCommand = Open | Deny | BootAnswer


class CommandSigner:
    def __init__(self, store: str, gateway_id: str, boot: int, key: SigningKey) -> None:
        self._store = store
        self._id = gateway_id
        self._boot = boot
        self._key = key
        self._seq = 0
        self._lock = threading.Lock()

    def sign(self, node: str, command: GatewayCommand, now_ms: int) -> tuple[str, bytes]:
        """Return (topic, payload) for `command` to `node`; its header fields and target are replaced."""
        with self._lock:
            self._seq += 1
            stamped = msgspec.structs.replace(
                command, dev=self._id, boot=self._boot, seq=self._seq, ts=now_ms, node=node
            )
        return cmd_topic(self._store, node, stamped.type), seal(self._key, encode_message(stamped))
