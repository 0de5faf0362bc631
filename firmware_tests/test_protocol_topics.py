"""Topic building and parsing for every topic kind of wire protocol v1."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.topics import (
    Kind,
    Topic,
    cmd_subscription,
    cmd_topic,
    event_topic,
    gateway_prefix,
    node_subscriptions,
    parse_topic,
    state_topic,
    upstream_in_topic,
    upstream_out_topic,
)

ids = st.from_regex(r"[a-z0-9-]{1,24}", fullmatch=True)
types = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


def bad_topic(topic: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_topic(topic)
    assert caught.value.reason is Reason.BAD_TOPIC


def test_builders_spell_the_contract() -> None:
    assert event_topic("st-1", "shelf-1", "weight") == "store/st-1/node/shelf-1/event/weight"
    assert state_topic("st-1", "shelf-1") == "store/st-1/node/shelf-1/state"
    assert cmd_topic("st-1", "gate-2", "open") == "store/st-1/node/gate-2/cmd/open"
    assert upstream_out_topic("st-1", "receipt") == "store/st-1/upstream/out/receipt"
    assert upstream_in_topic("st-1", "decision") == "store/st-1/upstream/in/decision"
    assert gateway_prefix("st-1") == "store/st-1/gateway"


@settings(max_examples=100, deadline=None)
@given(store=ids, node=ids, name=types)
def test_event_round_trip(store: str, node: str, name: str) -> None:
    topic = event_topic(store, node, name)
    parsed = parse_topic(topic)
    assert parsed == Topic(Kind.EVENT, store, node, name)
    assert str(parsed) == topic


@settings(max_examples=100, deadline=None)
@given(store=ids, node=ids)
def test_state_round_trip(store: str, node: str) -> None:
    topic = state_topic(store, node)
    parsed = parse_topic(topic)
    assert parsed == Topic(Kind.STATE, store, node, "state")
    assert str(parsed) == topic


@settings(max_examples=100, deadline=None)
@given(store=ids, node=ids, name=types)
def test_cmd_round_trip(store: str, node: str, name: str) -> None:
    topic = cmd_topic(store, node, name)
    parsed = parse_topic(topic)
    assert parsed == Topic(Kind.CMD, store, node, name)
    assert str(parsed) == topic


@settings(max_examples=100, deadline=None)
@given(store=ids, name=types)
def test_upstream_out_round_trip(store: str, name: str) -> None:
    topic = upstream_out_topic(store, name)
    parsed = parse_topic(topic)
    assert parsed == Topic(Kind.UPSTREAM_OUT, store, None, name)
    assert str(parsed) == topic


@settings(max_examples=100, deadline=None)
@given(store=ids, name=types)
def test_upstream_in_round_trip(store: str, name: str) -> None:
    topic = upstream_in_topic(store, name)
    parsed = parse_topic(topic)
    assert parsed == Topic(Kind.UPSTREAM_IN, store, None, name)
    assert str(parsed) == topic


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "store",
        "stores/s/node/n/state",
        "Store/s/node/n/state",
        "/store/s/node/n/state",
        "shop/s/node/n/event/weight",
        "store/S/node/n/state",
        "store/s/node/N/state",
        "store/s/node/n/event/Weight",
        "store/s/NODE/n/state",
        "store/s/node/n/EVENT/weight",
        "store/s/node/n",
        "store/s/node/n/event",
        "store/s/node/n/cmd",
        "store/s/node/n/state/extra",
        "store/s/node/n/event/weight/extra",
        "store/s/node/n/state/",
        "store/s/node/n/event/",
        "store//node/n/state",
        "store/s/node//state",
        "store/s//n/state",
        "store/s/node/n//weight",
        "store/s/upstream/out",
        "store/s/upstream/out/",
        "store/s/upstream/out/receipt/x",
        "store/s/upstream/sideways/receipt",
        "store/s/upstream/n/out/receipt",
        "store/+/node/n/state",
        "store/s/node/+/state",
        "store/s/node/+/event/+",
        "store/s/node/n/event/+",
        "store/s/node/n/event/#",
        "store/s/node/#",
        "store/#",
        "#",
        "store/s/gateway/devices",
        "store/s/node/n/telemetry/weight",
        "store/s/node/n/event/1weight",
        "store/s/node/n/event/we-ight",
        "store/s/node/n_1/state",
        "store/s.1/node/n/state",
        "store/s/node/n /state",
    ],
)
def test_parse_refuses_bad_topics(topic: str) -> None:
    bad_topic(topic)


@pytest.mark.parametrize(
    "topic",
    ["store/s/node/n\n/state", "store/s\n/node/n/state", "store/s/node/n/event/weight\n"],
    ids=["node", "store", "type"],
)
def test_parse_refuses_a_trailing_newline_in_a_segment(topic: str) -> None:
    bad_topic(topic)


@settings(max_examples=100, deadline=None)
@given(store=ids, node=ids, name=types, upper=st.integers(min_value=0, max_value=2))
def test_uppercase_anywhere_is_refused(store: str, node: str, name: str, upper: int) -> None:
    parts = [store, node, name]
    parts[upper] = parts[upper].upper()
    if parts[upper] == [store, node, name][upper]:
        parts[upper] = "X" + parts[upper]
    bad_topic(f"store/{parts[0]}/node/{parts[1]}/event/{parts[2]}")


@pytest.mark.parametrize(
    ("store", "node"),
    [("", "n"), ("s", ""), ("S", "n"), ("s", "N"), ("s/x", "n"), ("s", "n/x"), ("s", "+"), ("#", "n"), ("s", "n_1")],
)
def test_builders_refuse_bad_ids(store: str, node: str) -> None:
    with pytest.raises(ValueError):
        event_topic(store, node, "weight")
    with pytest.raises(ValueError):
        state_topic(store, node)
    with pytest.raises(ValueError):
        cmd_topic(store, node, "open")


@pytest.mark.parametrize("store", ["", "S", "a/b", "+", "#"])
def test_upstream_builders_refuse_bad_store(store: str) -> None:
    with pytest.raises(ValueError):
        upstream_out_topic(store, "receipt")
    with pytest.raises(ValueError):
        upstream_in_topic(store, "decision")


@pytest.mark.parametrize("name", ["", "Weight", "1weight", "we-ight", "a/b", "+", "#"])
def test_builders_refuse_bad_type_names(name: str) -> None:
    with pytest.raises(ValueError):
        event_topic("s", "n", name)
    with pytest.raises(ValueError):
        cmd_topic("s", "n", name)
    with pytest.raises(ValueError):
        upstream_out_topic("s", name)
    with pytest.raises(ValueError):
        upstream_in_topic("s", name)


def test_builders_refuse_a_trailing_newline() -> None:
    with pytest.raises(ValueError):
        state_topic("s", "n\n")
    with pytest.raises(ValueError):
        upstream_out_topic("s\n", "receipt")
    with pytest.raises(ValueError):
        event_topic("s", "n", "weight\n")


def test_cmd_subscription() -> None:
    assert cmd_subscription("st-1") == "store/st-1/node/+/cmd/+"


def test_node_subscriptions() -> None:
    assert node_subscriptions("st-1") == ("store/st-1/node/+/event/+", "store/st-1/node/+/state")


@settings(max_examples=100, deadline=None)
@given(store=ids, node=ids, name=types)
def test_subscriptions_cover_the_built_topics(store: str, node: str, name: str) -> None:
    events, states = node_subscriptions(store)
    assert mqtt_matches(events, event_topic(store, node, name))
    assert mqtt_matches(states, state_topic(store, node))
    assert not mqtt_matches(events, cmd_topic(store, node, name))
    assert mqtt_matches(cmd_subscription(store), cmd_topic(store, node, name))
    assert not mqtt_matches(cmd_subscription(store), cmd_topic(store + "x", node, name))
    assert not mqtt_matches(cmd_subscription(store), event_topic(store, node, name))


def mqtt_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching for the single-level wildcard used here."""
    want, have = pattern.split("/"), topic.split("/")
    return len(want) == len(have) and all(w in ("+", h) for w, h in zip(want, have, strict=True))
