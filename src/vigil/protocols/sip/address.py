"""SIP URIs and name-addr values of From / To / Contact / Route (RFC 3261 §19.1, §20.10)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.headers import quote, unquote
from vigil.protocols.sip.params import Params

MAX_URI_CHARS = 1024


def parse_host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` (RFC 3261 §25.1 ``hostport``)."""
    text = text.strip()
    if not text:
        raise ParseError("empty host")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError(f"unterminated IPv6 reference {text[:60]!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ParseError(f"junk after IPv6 reference {text[:60]!r}")
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text_raw = text.partition(":")
        port_text = port_text_raw if sep else None
    if not host or any(ch in host for ch in ' \t<>"@;,?'):
        raise ParseError(f"bad host {text[:60]!r}")
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise ParseError(f"bad port {port_text[:20]!r}")
    port = int(port_text)
    if port > 65535:
        raise ParseError(f"port {port} out of range")
    return host, port


def format_host_port(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


@dataclass(slots=True)
class SipUri:
    """``sip:user@host:port;params?headers`` (RFC 3261 §19.1.1)."""

    host: str
    user: str | None = None
    port: int | None = None
    scheme: str = "sip"
    password: str | None = None
    params: Params = field(default_factory=Params)
    headers: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        if len(text) > MAX_URI_CHARS:
            raise ParseError("URI too long")
        scheme, sep, rest = text.partition(":")
        if not sep or scheme.lower() not in ("sip", "sips"):
            raise ParseError(f"not a SIP URI: {text[:60]!r}")
        rest, qmark, headers = rest.partition("?")
        user: str | None = None
        password: str | None = None
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            user, colon, pw = userinfo.partition(":")
            password = pw if colon else None
            if not user:
                raise ParseError(f"empty user part in {text[:60]!r}")
        hostport, _, param_text = rest.partition(";")
        host, port = parse_host_port(hostport)
        return cls(
            host=host,
            user=user,
            port=port,
            scheme=scheme.lower(),
            password=password,
            params=Params.parse(param_text),
            headers=headers if qmark else None,
        )

    def serialize(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user if self.password is None else f"{self.user}:{self.password}"
            userinfo += "@"
        text = f"{self.scheme}:{userinfo}{format_host_port(self.host, self.port)}"
        text += self.params.serialize()
        if self.headers is not None:
            text += f"?{self.headers}"
        return text

    def __str__(self) -> str:
        return self.serialize()


@dataclass(slots=True)
class NameAddr:
    """``"Display" <uri>;param=value`` — a From, To, Contact, Route or Record-Route value.

    Parameters after an addr-spec without angle brackets belong to the header, not the URI
    (RFC 3261 §20.10). The URI is kept as text; :attr:`sip_uri` parses it on demand.
    """

    uri: str
    display_name: str | None = None
    params: Params = field(default_factory=Params)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if len(text) > MAX_URI_CHARS:
            raise ParseError("address too long")
        if text == "*":
            return cls(uri="*")
        display: str | None = None
        rest: str
        if text.startswith('"'):
            end = _closing_quote(text)
            display = unquote(text[: end + 1])
            text = text[end + 1 :].lstrip()
            if not text.startswith("<"):
                raise ParseError("quoted display name not followed by <uri>")
        if "<" in text:
            start = text.index("<")
            prefix = text[:start].strip()
            if prefix:
                if display is not None:
                    raise ParseError("two display names")
                display = prefix
            end = text.find(">", start)
            if end < 0:
                raise ParseError(f"unterminated <uri> in {text[:60]!r}")
            uri = text[start + 1 : end].strip()
            rest = text[end + 1 :]
        else:
            uri, _, tail = text.partition(";")
            uri = uri.strip()
            rest = ";" + tail if tail else ""
        rest = rest.strip()
        if rest and not rest.startswith(";"):
            raise ParseError(f"junk after address: {rest[:40]!r}")
        if not uri or ":" not in uri or any(ch in uri for ch in ' \t<>"'):
            raise ParseError(f"bad URI {uri[:60]!r}")
        return cls(uri=uri, display_name=display, params=Params.parse(rest))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def sip_uri(self) -> SipUri:
        return SipUri.parse(self.uri)

    def with_tag(self, tag: str) -> NameAddr:
        params = self.params.copy()
        params.set("tag", tag)
        return NameAddr(uri=self.uri, display_name=self.display_name, params=params)

    def serialize(self) -> str:
        if self.uri == "*":
            return "*"
        prefix = f"{quote(self.display_name)} " if self.display_name else ""
        return f"{prefix}<{self.uri}>{self.params.serialize()}"

    def __str__(self) -> str:
        return self.serialize()


def _closing_quote(text: str) -> int:
    escaped = False
    for index in range(1, len(text)):
        ch = text[index]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return index
    raise ParseError("unterminated quoted display name")
