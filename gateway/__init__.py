"""The in-store gateway: verifies and journals every device message, dedupes redelivery,
estimates device clocks, fuses carts into receipts for upstream, decides entry, and
publishes the store to operators' dashboards (gateway.operator)."""
