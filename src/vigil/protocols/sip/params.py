"""Semicolon parameters of SIP URIs and header values (RFC 3261 §19.1.1, §20: ``;name=value``).

Order and spelling are kept so a parsed value serializes back as it came; lookups ignore case.
A flag parameter (``;lr``, ``;rport``) has the value ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator

from vigil.protocols.errors import ParseError

MAX_PARAMS = 32


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on ``separator`` except inside ``"…"`` (with backslash escapes)."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif in_quotes and ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == separator and not in_quotes:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if in_quotes:
        raise ParseError(f"unterminated quoted string in {text[:60]!r}")
    parts.append("".join(current))
    return parts


class Params:
    """An ordered list of ``name[=value]`` parameters."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str | None]] | None = None) -> None:
        self._items: list[tuple[str, str | None]] = list(items or [])

    @classmethod
    def parse(cls, text: str) -> Params:
        """Parse ``;a=1;b;c="x;y"`` (a leading ``;`` is optional)."""
        text = text.strip()
        if text.startswith(";"):
            text = text[1:]
        if not text:
            return cls()
        pieces = split_outside_quotes(text, ";")
        if len(pieces) > MAX_PARAMS:
            raise ParseError(f"more than {MAX_PARAMS} parameters")
        items: list[tuple[str, str | None]] = []
        for piece in pieces:
            name, sep, value = piece.partition("=")
            name = name.strip()
            if not name or any(ch in name for ch in ' \t"<>,'):
                raise ParseError(f"bad parameter {piece.strip()!r}")
            items.append((name, value.strip() if sep else None))
        return cls(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        for key, value in self._items:
            if key.lower() == lowered:
                return value
        return default

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        lowered = name.lower()
        return any(key.lower() == lowered for key, _ in self._items)

    def set(self, name: str, value: str | None, *, after: str | None = None) -> None:
        """Set in place if present; else insert after ``after`` (if present) or append."""
        lowered = name.lower()
        for index, (key, _) in enumerate(self._items):
            if key.lower() == lowered:
                self._items[index] = (key, value)
                return
        if after is not None:
            anchor = after.lower()
            for index, (key, _) in enumerate(self._items):
                if key.lower() == anchor:
                    self._items.insert(index + 1, (name, value))
                    return
        self._items.append((name, value))

    def remove(self, name: str) -> None:
        lowered = name.lower()
        self._items = [(key, value) for key, value in self._items if key.lower() != lowered]

    def items(self) -> list[tuple[str, str | None]]:
        return list(self._items)

    def copy(self) -> Params:
        return Params(self._items)

    def serialize(self) -> str:
        """``;a=1;b`` (empty string when there are none)."""
        return "".join(
            f";{key}" if value is None else f";{key}={value}" for key, value in self._items
        )

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Params) and self._items == other._items

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Params({self._items!r})"
