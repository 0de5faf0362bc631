"""What every node runs, whatever its role: config, persisted boot state, the on-disk spool,
the MQTT link with availability and command intake, and periodic health."""
