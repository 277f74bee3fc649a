"""Vigil: an open platform for networked public-safety video (GB/T 28181)."""

__version__ = "0.1.0"
