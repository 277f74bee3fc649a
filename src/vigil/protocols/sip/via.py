"""The Via header value (RFC 3261 §20.42, §18.2.1) with RFC 3581 ``rport``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.address import format_host_port, parse_host_port
from vigil.protocols.sip.params import Params

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7

_VIA = re.compile(
    r"^\s*([A-Za-z0-9.!%*_+`'~-]+)\s*/\s*([A-Za-z0-9.!%*_+`'~-]+)\s*/\s*"
    r"([A-Za-z0-9.!%*_+`'~-]+)\s+([^;\s]+(?:\s*:\s*\d+)?)\s*(;.*)?$",
    re.DOTALL,
)


@dataclass(slots=True)
class Via:
    """``SIP/2.0/UDP host:port;branch=…;rport;received=…``."""

    transport: str
    host: str
    port: int | None = None
    params: Params = field(default_factory=Params)
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        match = _VIA.match(text)
        if match is None:
            raise ParseError(f"bad Via {text[:80]!r}")
        name, version, transport, sent_by, param_text = match.groups()
        host, port = parse_host_port(sent_by.replace(" ", ""))
        return cls(
            transport=transport.upper(),
            host=host,
            port=port,
            params=Params.parse(param_text or ""),
            protocol=f"{name}/{version}".upper(),
        )

    @classmethod
    def build(
        cls, transport: str, host: str, port: int | None, branch: str, *, rport: bool = True
    ) -> Via:
        """A Via for an outgoing request; ``rport`` asks for the RFC 3581 source port."""
        params = Params()
        if rport:
            params.set("rport", None)
        params.set("branch", branch)
        return cls(transport=transport.upper(), host=host, port=port, params=params)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """The port filled in by the server (``rport=N``); ``None`` when absent or a bare flag."""
        value = self.params.get("rport")
        if value is None or not value.isascii() or not value.isdigit() or len(value) > 5:
            return None
        return int(value)

    @property
    def wants_rport(self) -> bool:
        return "rport" in self.params

    @property
    def reliable(self) -> bool:
        return self.transport not in ("UDP", "DTLS")

    def response_address(self, default_port: int = 5060) -> tuple[str, int]:
        """Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4): received/rport over sent-by."""
        host = self.received or self.host
        port = self.rport or self.port or default_port
        return host, port

    def stamp_source(self, host: str, port: int) -> None:
        """Record the packet source on a received request (RFC 3261 §18.2.1, RFC 3581 §4).

        ``received`` is added when the sent-by host differs from the source, or always when
        the client asked for ``rport``; ``rport`` then gets the source port, and ``received``
        sits right after it (the order WVP and the GB/T 28181 examples show).
        """
        if self.wants_rport:
            self.params.set("rport", str(port))
            self.params.set("received", host, after="rport")
        elif host != self.host:
            self.params.set("received", host)

    def serialize(self) -> str:
        sent_by = format_host_port(self.host, self.port)
        return f"{self.protocol}/{self.transport} {sent_by}{self.params.serialize()}"

    def __str__(self) -> str:
        return self.serialize()
