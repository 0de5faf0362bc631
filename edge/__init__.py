"""What runs on the store's devices: the wire protocol, the runtime every node shares, one package per role."""
