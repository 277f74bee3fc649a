"""Errors the signalling server raises to its callers (the API, streams).

SignalingError
├── DeviceUnavailableError  the device is unknown, not registered or offline
├── QueryTimeoutError       the device did not answer in time
├── QueryFailedError        the device answered with an error status
└── OverloadedError         a bounded queue is full; try again later
"""

from __future__ import annotations


class SignalingError(Exception):
    """Base of every signalling error."""


class DeviceUnavailableError(SignalingError):
    """The device is unknown, not registered or offline."""


class QueryTimeoutError(SignalingError):
    """No answer within the query timeout."""


class QueryFailedError(SignalingError):
    """The device refused the request; ``status`` is the SIP status it answered."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class OverloadedError(SignalingError):
    """Too many requests in progress."""
