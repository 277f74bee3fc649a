"""The ledger: regions, organisations, devices and collection points (channels)."""
