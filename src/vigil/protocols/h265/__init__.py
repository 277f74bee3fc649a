"""ITU-T H.265 / HEVC: NAL types, SPS parsing, access units, RFC 7798 depacketising."""
