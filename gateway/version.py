"""The gateway's software version, as its status and its Home Assistant devices report it."""

VERSION = "0.1.0"
