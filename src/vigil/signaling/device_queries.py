"""The MANSCDP requests the API sends a device through the signalling server: catalog,
DeviceInfo and DeviceStatus queries (GB/T 28181-2016 §9.5), RecordInfo (§9.7) and any
MESSAGE body such as a DeviceControl (§9.3).

:class:`DeviceQueries` is a base of :class:`vigil.signaling.server.SignalingServer`, which
builds the messenger, the catalog fetcher and the record queries it uses.
"""

from __future__ import annotations

from datetime import datetime

from vigil.protocols.gb28181.manscdp import (
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceStatusQuery,
    DeviceStatusResponse,
)
from vigil.protocols.sip.message import SipResponse
from vigil.registry.catalog_sync import CatalogSyncReport
from vigil.signaling.catalog_fetch import CatalogFetcher
from vigil.signaling.errors import QueryFailedError
from vigil.signaling.messenger import DeviceMessenger
from vigil.signaling.record_query import RecordList, RecordQueries


class DeviceQueries:
    messenger: DeviceMessenger
    catalog: CatalogFetcher
    records: RecordQueries

    async def refresh_catalog(self, device_id: str) -> CatalogSyncReport:
        """Query the catalog now and sync it; raises SignalingError subclasses."""
        return await self.catalog.fetch(device_id)

    async def query_device_info(self, device_id: str) -> DeviceInfoResponse:
        answer = await self.messenger.query(
            device_id,
            "DeviceInfo",
            lambda sn, charset: DeviceInfoQuery(sn=sn, device_id=device_id).serialize(charset),
        )
        assert isinstance(answer, DeviceInfoResponse)
        return answer

    async def query_device_status(self, device_id: str) -> DeviceStatusResponse:
        answer = await self.messenger.query(
            device_id,
            "DeviceStatus",
            lambda sn, charset: DeviceStatusQuery(sn=sn, device_id=device_id).serialize(charset),
        )
        assert isinstance(answer, DeviceStatusResponse)
        return answer

    async def send_message(
        self, device_id: str, body: bytes, *, target_id: str | None = None
    ) -> SipResponse:
        """MESSAGE a MANSCDP body (e.g. a PTZ DeviceControl) to the device, or to one of its
        channels with ``target_id``; returns the 2xx, raises QueryFailedError otherwise."""
        response = await self.messenger.message(device_id, body, target_id=target_id)
        if not response.is_success:
            raise QueryFailedError(
                f"{device_id} answered {response.status_code}", response.status_code
            )
        return response

    async def query_record_info(
        self, device_id: str, channel_id: str, start: datetime, end: datetime, type: str = "all"
    ) -> RecordList:
        """The device's recordings of a channel (RecordInfo, all parts reassembled)."""
        return await self.records.query(device_id, channel_id, start, end, record_type=type)
