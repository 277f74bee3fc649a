"""MPEG-2 program streams as carried by GB/T 28181 (ISO/IEC 13818-1 §2.5, GB/T 28181 App. C)."""
