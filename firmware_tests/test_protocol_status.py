"""The gateway status payload, and the one question nodes ask of it: is the gateway online?"""

import msgspec
import pytest

from edge.protocol.status import GatewayStatus, gateway_online


def status(state: str) -> bytes:
    return msgspec.json.encode(GatewayStatus(state, "0.1.0", 5, 10, 1, {"float": 2}, 0))  # type: ignore[arg-type]


def test_online_status_lets_nodes_send() -> None:
    assert gateway_online(status("online"))


@pytest.mark.parametrize("state", ["stopped", "offline"])
def test_stopped_or_offline_gateway_holds_nodes(state: str) -> None:
    assert not gateway_online(status(state))


@pytest.mark.parametrize(
    "payload",
    [b"", b"online", b"{", b'{"state":"ONLINE"}', b'{"state":1}', b'["online"]', b'{"state":"onl\xffine"}'],
)
def test_anything_else_is_not_online(payload: bytes) -> None:
    assert not gateway_online(payload)


def test_extra_dashboard_fields_do_not_matter() -> None:
    assert gateway_online(b'{"state":"online","anything":[1,2.5]}')
