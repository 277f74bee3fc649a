"""RTP (RFC 3550): packets, reordering with loss statistics, TCP framing (RFC 4571, RTSP $)."""
