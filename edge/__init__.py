"""What runs on the store's devices: the wire protocol and the runtime every node shares, plus one package per node role."""
