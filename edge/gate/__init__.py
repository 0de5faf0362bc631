"""Gate controller: the turnstile state machine, the palm pipeline up to the sealed template, and the QR reader."""
