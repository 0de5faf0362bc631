"""gateway/operator/discovery.py: one device-based discovery message per device, using only
keys Home Assistant documents (Home Assistant drops a whole device payload with one key it
does not know).

The allowlists are the documented options, in full spelling, of
https://www.home-assistant.io/integrations/mqtt/ (device-based discovery: device, origin,
components and the shared options), .../sensor.mqtt/ and .../binary_sensor.mqtt/.
"""

import json
from typing import Any

import jinja2
import pytest

from gateway.operator.discovery import discovery_messages

ROOT = {
    "device", "origin", "components", "state_topic", "command_topic", "qos", "encoding", "availability",
    "availability_topic", "availability_mode", "availability_template", "payload_available",
    "payload_not_available",
}  # fmt: skip
DEVICE = {
    "identifiers", "connections", "name", "manufacturer", "model", "model_id", "serial_number", "sw_version",
    "hw_version", "configuration_url", "suggested_area", "via_device",
}  # fmt: skip
ORIGIN = {"name", "sw_version", "support_url"}
AVAILABILITY = {"topic", "payload_available", "payload_not_available", "value_template"}
COMMON = {
    "platform", "unique_id", "name", "device_class", "state_topic", "value_template", "json_attributes_topic",
    "json_attributes_template", "expire_after", "force_update", "enabled_by_default", "entity_category",
    "entity_picture", "icon", "encoding", "qos", "availability", "availability_topic", "availability_mode",
    "availability_template", "payload_available", "payload_not_available",
}  # fmt: skip
PLATFORMS = {
    "sensor": COMMON | {"state_class", "unit_of_measurement", "suggested_display_precision", "options"},
    "binary_sensor": COMMON | {"payload_on", "payload_off", "off_delay"},
}
DEVICES = {"shelf-01": "shelf", "gate-01": "gate", "camera-01": "camera"}


@pytest.fixture
def messages() -> dict[str, dict[str, Any]]:
    raw = discovery_messages("test", "homeassistant", DEVICES, {"shelf-01": [0, 1, 2]})
    return {topic: json.loads(payload) for topic, payload in raw.items()}


def test_one_message_per_device_for_the_gateway_each_node_and_each_shelf(messages) -> None:  # type: ignore[no-untyped-def]
    assert set(messages) == {
        "homeassistant/device/test-gateway/config",
        "homeassistant/device/test-shelf-01/config",
        "homeassistant/device/test-gate-01/config",
        "homeassistant/device/test-camera-01/config",
        "homeassistant/device/test-shelf-shelf-01/config",
    }


def test_only_documented_keys_are_used(messages) -> None:  # type: ignore[no-untyped-def]
    for topic, payload in messages.items():
        assert set(payload) <= ROOT, topic
        assert set(payload["device"]) <= DEVICE, topic
        assert set(payload["origin"]) <= ORIGIN, topic
        for availability in payload["availability"]:
            assert set(availability) <= AVAILABILITY, topic
        assert payload["components"], f"{topic} has no entities"
        for name, component in payload["components"].items():
            allowed = PLATFORMS[component["platform"]]
            assert set(component) <= allowed, f"{topic} {name}: {set(component) - allowed}"


def test_unique_ids_are_unique_and_every_entity_names_its_device(messages) -> None:  # type: ignore[no-untyped-def]
    ids = [c["unique_id"] for m in messages.values() for c in m["components"].values()]
    assert len(ids) == len(set(ids))
    assert all(key == c["unique_id"] for m in messages.values() for key, c in m["components"].items())
    devices = [m["device"]["identifiers"][0] for m in messages.values()]
    assert len(devices) == len(set(devices))
    gateway = messages["homeassistant/device/test-gateway/config"]["device"]["identifiers"][0]
    assert all(m["device"].get("via_device", gateway) == gateway for m in messages.values())


def render(template: str, value: dict[str, Any]) -> str:
    return jinja2.Environment().from_string(template).render(value_json=value)


def test_templates_read_the_dashboard_payloads(messages) -> None:  # type: ignore[no-untyped-def]
    node = messages["homeassistant/device/test-shelf-01/config"]["components"]
    device = {"availability": "online", "alerts": [], "spool": 3, "health": {"temp_c10": 421, "uptime_s": 9}}
    assert render(node["storeedge_test_shelf_01_connected"]["value_template"], device) == "ON"
    assert render(node["storeedge_test_shelf_01_connected"]["value_template"], {"availability": "offline"}) == "OFF"
    assert render(node["storeedge_test_shelf_01_temperature"]["value_template"], device) == "42.1"
    assert render(node["storeedge_test_shelf_01_problem"]["value_template"], device) == "OFF"
    shelf = messages["homeassistant/device/test-shelf-shelf-01/config"]["components"]
    lanes = {"lanes": [{"lane": 0, "weight_mg": 1_500_000, "stock": 3}, {"lane": 1, "weight_mg": None, "stock": None}]}
    assert render(shelf["storeedge_test_shelf_shelf_01_lane0_weight"]["value_template"], lanes) == "1500.0"
    assert render(shelf["storeedge_test_shelf_shelf_01_lane0_stock"]["value_template"], lanes) == "3"
    assert render(shelf["storeedge_test_shelf_shelf_01_lane1_weight"]["value_template"], lanes) == "None"
    gateway = messages["homeassistant/device/test-gateway/config"]
    availability = gateway["availability"][0]["value_template"]
    assert [render(availability, {"state": s}) for s in ("online", "stalled", "offline")] == ["online"] + [
        "offline"
    ] * 2
