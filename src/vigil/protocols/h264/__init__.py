"""ITU-T H.264 / AVC: Annex-B framing, SPS parsing, access units, RFC 6184 depacketising."""
