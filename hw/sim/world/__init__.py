"""The simulated store world (DESIGN section 9): shoppers planned on the store layout's
floor, what they really took (the ground truth), and what the devices report of it, with
their errors, as the gateway would receive it: the fast path's message stream."""
