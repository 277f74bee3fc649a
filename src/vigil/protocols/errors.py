"""Errors of the sans-I/O protocol cores (DESIGN §4.4).

    ProtocolError
    ├── ParseError   the peer's fault: malformed or oversized input; carries a status hint
    └── StateError   the caller's fault: an operation the current state does not allow

Untrusted input never raises anything but ParseError.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every protocol error."""


class ParseError(ProtocolError):
    """Input from a peer could not be parsed; ``status_hint`` is the reply to send (SIP 400)."""

    def __init__(self, message: str, *, status_hint: int = 400) -> None:
        super().__init__(message)
        self.status_hint = status_hint


class StateError(ProtocolError):
    """The caller asked for something the current state does not allow."""
