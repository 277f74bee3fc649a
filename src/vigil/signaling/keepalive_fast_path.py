"""Recognising keepalive MESSAGEs on the bytes (GB/T 28181-2016 §9.6, A.2.5 a).

Keepalives are almost all the traffic of a large platform (100 000 devices at the default
60 s are ~1 700 per second); they are answered statelessly (:mod:`.stateless_request`).
A keepalive whose body carries an ``<Info>`` list of faulty sub-devices, any ``<!`` markup,
or a From user that differs from the body's DeviceID takes the general path (full SIP and
defusedxml parsing).
"""

from __future__ import annotations

import re

from vigil.signaling.stateless_request import StatelessRequest, scan_request

_KEEPALIVE = re.compile(rb"<CmdType>\s*Keepalive\s*</CmdType>", re.IGNORECASE)
_BODY_DEVICE_ID = re.compile(rb"<DeviceID>\s*(\d{20})\s*</DeviceID>", re.IGNORECASE)


def recognise_keepalive(data: bytes) -> tuple[str, StatelessRequest] | None:
    """(device ID, request) for a keepalive of the common shape, else ``None``."""
    request = scan_request(data, b"MESSAGE")
    if request is None:
        return None
    body = request.body
    if b"<!" in body or b"<info" in body.lower() or _KEEPALIVE.search(body) is None:
        return None
    found = _BODY_DEVICE_ID.search(body)
    if found is None:
        return None
    device_id = found.group(1).decode("ascii")
    if request.from_user != device_id:
        return None
    return device_id, request
