"""Sans-I/O wire formats: bytes (and ``now``) in, events and bytes out. Stdlib only."""
