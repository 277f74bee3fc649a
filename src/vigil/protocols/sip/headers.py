"""SIP header fields: an ordered, case-insensitive collection (RFC 3261 §7.3).

* Names compare case-insensitively and compact forms are expanded on insertion (§7.3.3), so
  ``v:`` and ``Via:`` are the same field.
* A field that may hold a comma-separated list (§7.3.1: Via, Route, Contact…) can appear on
  several lines or comma-joined on one; :meth:`Headers.get_all` returns the elements either way.
  Commas inside quoted strings and angle brackets do not split.
* Fields whose values legitimately contain commas (WWW-Authenticate, Authorization, Date, and
  GB/T 28181's ``Subject: a:1,b:0``) are never split.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from vigil.protocols.errors import ParseError

# RFC 3261 §7.3.3 and the IANA registry of compact forms.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_CANONICAL: dict[str, str] = {
    name.lower(): name
    for name in (
        *COMPACT_FORMS.values(),
        "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
        "Authentication-Info", "Authorization", "Call-Info", "Content-Disposition",
        "Content-Language", "CSeq", "Date", "Error-Info", "Expires", "In-Reply-To",
        "Max-Forwards", "Min-Expires", "MIME-Version", "Organization", "Priority",
        "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Record-Route",
        "Reply-To", "Require", "Retry-After", "Route", "Server", "Subscription-State",
        "Timestamp", "Unsupported", "User-Agent", "Warning", "WWW-Authenticate", "RSeq",
        "RAck", "X-GB-Ver",
    )
}  # fmt: skip

# Fields defined as comma-separated lists (RFC 3261 §7.3.1, §20; RFC 3265 for Allow-Events).
LIST_FIELDS: frozenset[str] = frozenset(
    name.lower()
    for name in (
        "Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require",
        "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language",
        "Allow-Events", "Content-Encoding", "Content-Language", "In-Reply-To",
        "Alert-Info", "Call-Info", "Error-Info", "Reply-To",
    )
)  # fmt: skip

_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")


def is_token(text: str) -> bool:
    """RFC 3261 §25.1 ``token``: one or more of alphanumerics and ``-.!%*_+`'~``."""
    return bool(text) and all(ch in _TOKEN_CHARS for ch in text)


def canonical_name(name: str) -> str:
    """Expand a compact form and give a known field its usual spelling; others are kept."""
    lowered = name.lower()
    if len(lowered) == 1 and lowered in COMPACT_FORMS:
        return COMPACT_FORMS[lowered]
    return _CANONICAL.get(lowered, name)


def _key(name: str) -> str:
    return canonical_name(name).lower()


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas in ``"…"`` and ``<…>`` (§7.3.1)."""
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    escaped = False
    for index, ch in enumerate(value):
        if escaped:
            escaped = False
        elif in_quotes:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def quote(text: str) -> str:
    """RFC 3261 §25.1 ``quoted-string``: wrap in quotes, escaping ``"`` and ``\\``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def unquote(text: str) -> str:
    """Inverse of :func:`quote`; a value without surrounding quotes is returned stripped."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        out: list[str] = []
        escaped = False
        for ch in inner:
            if escaped:
                out.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            else:
                out.append(ch)
        return "".join(out)
    if text.startswith('"'):
        raise ParseError(f"unterminated quoted string {text[:40]!r}")
    return text


def _check_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(f"header {name} value contains a line break or NUL")
    if not is_token(name):
        raise ValueError(f"header name {name!r} is not a token")


class Headers:
    """Ordered SIP header fields with case-insensitive, compact-form-aware lookup."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = []
        for name, value in fields:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a field line (names are stored canonically; values as given)."""
        _check_value(name, value)
        self._fields.append((canonical_name(name), value))

    def _append_parsed(self, name: str, value: str) -> None:
        """Append without the builder checks (the parser has validated the line)."""
        self._fields.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` with one line, kept at the first line's position."""
        _check_value(name, value)
        key = _key(name)
        for index, (existing, _) in enumerate(self._fields):
            if existing.lower() == key:
                self._fields[index] = (canonical_name(name), value)
                self._fields = [
                    field
                    for position, field in enumerate(self._fields)
                    if position <= index or field[0].lower() != key
                ]
                return
        self._fields.append((canonical_name(name), value))

    def set_first(self, name: str, value: str) -> None:
        """Replace the first line of ``name`` only (append when absent)."""
        _check_value(name, value)
        key = _key(name)
        for index, (existing, _) in enumerate(self._fields):
            if existing.lower() == key:
                self._fields[index] = (existing, value)
                return
        self._fields.append((canonical_name(name), value))

    def remove(self, name: str) -> None:
        key = _key(name)
        self._fields = [field for field in self._fields if field[0].lower() != key]

    def get(self, name: str) -> str | None:
        """The first line's value, or ``None``."""
        key = _key(name)
        for existing, value in self._fields:
            if existing.lower() == key:
                return value
        return None

    def get_lines(self, name: str) -> list[str]:
        """Every line's value, unsplit."""
        key = _key(name)
        return [value for existing, value in self._fields if existing.lower() == key]

    def get_all(self, name: str) -> list[str]:
        """Every element: list fields are split on top-level commas, others one per line."""
        lines = self.get_lines(name)
        if _key(name) not in LIST_FIELDS:
            return lines
        values: list[str] = []
        for line in lines:
            values.extend(split_header_list(line))
        return values

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._fields == other._fields

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"

    def copy(self) -> Headers:
        clone = Headers()
        clone._fields = list(self._fields)
        return clone
