"""SIP (RFC 3261) as GB/T 28181 uses it: messages, TCP framing, digest, transactions, dialogs
and a sans-I/O endpoint tying them together."""
