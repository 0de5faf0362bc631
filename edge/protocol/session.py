"""The broker session of a service that commits before it acknowledges (DESIGN section 5):
persistent (clean session off), QoS 1 acknowledged by hand, paho's log, and the broker
config's reconnect backoff. The gateway and the reference upstream each run one."""

import logging

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.protocol.configfile import BrokerConfig


def persistent_client(client_id: str, broker: BrokerConfig, password: str | None) -> mqtt.Client:
    """A paho client for a persistent, manually acknowledged session, logging in as client_id."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
        manual_ack=True,
    )
    client.enable_logger(logging.getLogger("paho"))
    if password is not None:
        client.username_pw_set(client_id, password)
    client.reconnect_delay_set(broker.reconnect_min_s, broker.reconnect_max_s)
    return client
