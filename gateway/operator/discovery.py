"""Home Assistant MQTT discovery: one device-based discovery message per device
(`{prefix}/device/{id}/config`, retained) for the gateway, each node and each shelf, whose
entities read the gateway's retained dashboard topics. Pure.

Only keys Home Assistant documents for device-based discovery are used, spelled in full
(https://www.home-assistant.io/integrations/mqtt/, sensor.mqtt and binary_sensor.mqtt):
Home Assistant refuses a whole device payload with one key it does not know.

Every entity is available while the gateway says `online`: the topics are the gateway's
own, and stale without it. A node's own availability is an entity (connectivity), so a
dashboard shows a node that went away as `off`, not as an unavailable blank.
"""

from collections.abc import Mapping
from typing import Any

import msgspec

from edge.protocol.topics import gateway_device_topic, gateway_shelf_topic, gateway_state_topic
from gateway.version import VERSION

ORIGIN = {"name": "storeedge", "sw_version": VERSION}


def discovery_topic(prefix: str, object_id: str) -> str:
    return f"{prefix}/device/{object_id}/config"


def discovery_messages(
    store: str, prefix: str, devices: Mapping[str, str], shelves: Mapping[str, list[int]]
) -> dict[str, bytes]:
    """Topic and payload of every device's discovery message. `devices`: node id to role;
    `shelves`: each shelf's lanes."""
    gateway_id = _identifier(store, "gateway")
    messages = {discovery_topic(prefix, f"{store}-gateway"): _gateway(store)}
    for node, role in devices.items():
        messages[discovery_topic(prefix, f"{store}-{node}")] = _node(store, node, role, gateway_id)
    for shelf, lanes in shelves.items():
        messages[discovery_topic(prefix, f"{store}-shelf-{shelf}")] = _shelf(store, shelf, lanes, gateway_id)
    return {topic: msgspec.json.encode(payload) for topic, payload in messages.items()}


def _identifier(store: str, name: str) -> str:
    return f"storeedge_{store}_{name}".replace("-", "_")


def _availability(store: str) -> list[dict[str, str]]:
    return [
        {
            "topic": gateway_state_topic(store),
            "value_template": "{{ 'online' if value_json.state == 'online' else 'offline' }}",
        }
    ]


def _sensor(unique_id: str, name: str, value: str, **options: Any) -> dict[str, Any]:
    return {"platform": "sensor", "unique_id": unique_id, "name": name, "value_template": value, **options}


def _gateway(store: str) -> dict[str, Any]:
    uid = _identifier(store, "gateway")
    per_min = {"unit_of_measurement": "messages/min", "state_class": "measurement"}
    return {
        "device": {
            "identifiers": [uid],
            "name": f"Store {store} gateway",
            "manufacturer": "storeedge",
            "model": "gateway",
            "sw_version": VERSION,
        },
        "origin": ORIGIN,
        "state_topic": gateway_state_topic(store),
        "availability": _availability(store),
        "components": {
            f"{uid}_state": _sensor(f"{uid}_state", "State", "{{ value_json.state }}"),
            f"{uid}_accepted": _sensor(
                f"{uid}_accepted", "Accepted", "{{ value_json.rates.accepted_per_min }}", **per_min
            ),
            f"{uid}_rejected": _sensor(
                f"{uid}_rejected", "Rejected", "{{ value_json.rates.rejected_per_min }}", **per_min
            ),
            f"{uid}_backlog": _sensor(
                f"{uid}_backlog", "Backlog", "{{ value_json.backlog }}", unit_of_measurement="messages"
            ),
            f"{uid}_devices_online": _sensor(
                f"{uid}_devices_online", "Devices online", "{{ value_json.devices_online }}", state_class="measurement"
            ),
            f"{uid}_sessions_open": _sensor(
                f"{uid}_sessions_open",
                "Shoppers' sessions",
                "{{ value_json.sessions_open }}",
                state_class="measurement",
            ),
            f"{uid}_review_queue": _sensor(
                f"{uid}_review_queue", "Receipts for review", "{{ value_json.review_queue }}", state_class="measurement"
            ),
            f"{uid}_upstream": {
                "platform": "binary_sensor",
                "unique_id": f"{uid}_upstream",
                "name": "Upstream",
                "device_class": "connectivity",
                "value_template": "{{ 'ON' if value_json.upstream == 'up' else 'OFF' }}",
            },
        },
    }


def _node(store: str, node: str, role: str, gateway_id: str) -> dict[str, Any]:
    uid = _identifier(store, node)
    diagnostic = {"entity_category": "diagnostic"}
    return {
        "device": {
            "identifiers": [uid],
            "name": node,
            "manufacturer": "storeedge",
            "model": f"{role} node",
            "via_device": gateway_id,
        },
        "origin": ORIGIN,
        "state_topic": gateway_device_topic(store, node),
        "availability": _availability(store),
        "components": {
            f"{uid}_connected": {
                "platform": "binary_sensor",
                "unique_id": f"{uid}_connected",
                "name": "Connected",
                "device_class": "connectivity",
                "value_template": "{{ 'ON' if value_json.availability == 'online' else 'OFF' }}",
                "json_attributes_topic": gateway_device_topic(store, node),
            },
            f"{uid}_problem": {
                "platform": "binary_sensor",
                "unique_id": f"{uid}_problem",
                "name": "Alerts",
                "device_class": "problem",
                "value_template": "{{ 'ON' if value_json.alerts else 'OFF' }}",
            },
            f"{uid}_spool": _sensor(
                f"{uid}_spool", "Unsent events", "{{ value_json.spool }}", state_class="measurement", **diagnostic
            ),
            f"{uid}_temperature": _sensor(
                f"{uid}_temperature",
                "Temperature",
                "{{ value_json.health.temp_c10 / 10 if value_json.health and value_json.health.temp_c10 > -32768"
                " else None }}",
                device_class="temperature",
                unit_of_measurement="°C",
                state_class="measurement",
                **diagnostic,
            ),  # fmt: skip
            f"{uid}_uptime": _sensor(
                f"{uid}_uptime",
                "Uptime",
                "{{ value_json.health.uptime_s if value_json.health else None }}",
                device_class="duration",
                unit_of_measurement="s",
                **diagnostic,
            ),  # fmt: skip
            f"{uid}_boot": _sensor(f"{uid}_boot", "Boot", "{{ value_json.boot }}", **diagnostic),
        },
    }


def _shelf(store: str, shelf: str, lanes: list[int], gateway_id: str) -> dict[str, Any]:
    uid = _identifier(store, f"shelf_{shelf}")
    components: dict[str, Any] = {}
    for lane in lanes:
        pick = f"{{% set l = value_json.lanes | selectattr('lane', 'eq', {lane}) | first %}}"
        components[f"{uid}_lane{lane}_stock"] = _sensor(
            f"{uid}_lane{lane}_stock", f"Lane {lane} stock", pick + "{{ l.stock }}", state_class="measurement"
        )
        components[f"{uid}_lane{lane}_weight"] = _sensor(
            f"{uid}_lane{lane}_weight", f"Lane {lane} weight",
            pick + "{{ l.weight_mg / 1000 if l.weight_mg is not none else None }}",
            device_class="weight", unit_of_measurement="g", state_class="measurement",
        )  # fmt: skip
    return {
        "device": {
            "identifiers": [uid],
            "name": f"Shelf {shelf}",
            "manufacturer": "storeedge",
            "model": "shelf",
            "via_device": gateway_id,
        },
        "origin": ORIGIN,
        "state_topic": gateway_shelf_topic(store, shelf),
        "availability": _availability(store),
        "components": components,
    }
