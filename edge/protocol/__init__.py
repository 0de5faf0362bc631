"""The wire contract shared by devices, gateway and upstream.

Envelope (Ed25519, libsodium combined mode), message types with strict decoding,
topic building and parsing, which role may send which type, and key files.
Nothing here does network I/O; key files are the only disk I/O.
"""
