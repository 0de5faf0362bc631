"""The reference upstream service (palm identity, QR tokens, receipts); it grows with the gate issue."""
