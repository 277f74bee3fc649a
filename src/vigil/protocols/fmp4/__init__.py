"""Fragmented MP4 for MSE and recordings (ISO/IEC 14496-12, 14496-15)."""
