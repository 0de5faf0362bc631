"""The fusion engine (DESIGN section 6): pure logic that turns the journal's accepted
messages into sessions, carts and receipts, the same way live and in `storegw replay`."""
