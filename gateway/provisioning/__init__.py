"""Provisioning of a store site: gateway and upstream keys, device keys and credentials, the
device registry, node configs, and Mosquitto's config generated from the registry.

A site directory holds it all on the installer's machine or the gateway box; device
files are then carried to each device (later by `make flash`).
"""
