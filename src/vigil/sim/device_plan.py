"""Identities and catalogs of simulated devices: IDs made with :func:`make_device_id` from
the region code (GB/T 28181-2016 Appendix D), Chinese channel names.

IPCs are type 132 with one channel of type 131; NVRs are type 118 with M channels of type
131. Channel serials are ``(device serial - 1) × M + n``, so simulators started with
disjoint device serials never share a channel ID. Names include 萳, a character outside
GB2312 that devices still send (as GBK/GB18030 bytes) and that breaks platforms decoding
strictly as GB2312 (WVP #1341).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.protocols.gb28181.device_id import make_device_id
from vigil.protocols.gb28181.manscdp import CatalogItem
from vigil.sim.config import SimConfig

IPC_TYPE = 132
NVR_TYPE = 118
CHANNEL_TYPE = 131

PLACES = (
    "中山路与北京路交叉口",
    "镜湖公园东门",
    "汽车站广场",
    "步行街北口",
    "萳溪桥",
    "长江大桥引桥",
    "火车站南广场",
    "学校门口",
)


@dataclass(slots=True)
class ChannelPlan:
    channel_id: str
    name: str
    online: bool = True


@dataclass(slots=True)
class DevicePlan:
    device_id: str
    name: str
    model: str
    civil_code: str
    channels: list[ChannelPlan] = field(default_factory=list)

    def catalog_item(self, channel: ChannelPlan, manufacturer: str) -> CatalogItem:
        """The channel as a catalog ``Item`` (A.2.6 c; the mandatory fields filled)."""
        return CatalogItem(
            device_id=channel.channel_id,
            name=channel.name,
            manufacturer=manufacturer,
            model=self.model,
            owner="Owner",
            civil_code=self.civil_code,
            address=channel.name,
            parental=False,
            parent_id=self.device_id,
            safety_way=0,
            register_way=1,
            secrecy=0,
            status="ON" if channel.online else "OFF",
            longitude=118.38,
            latitude=31.33,
            ptz_type=ptz_type_of(channel.channel_id),
        )


def ptz_type_of(channel_id: str) -> int:
    """The catalog PTZType of a simulated channel: odd IDs are domes (1), even IDs fixed
    bullets (3), so every NVR has both kinds."""
    return 1 if int(channel_id[-1]) % 2 else 3


def channel_name(serial: int) -> str:
    return f"{PLACES[serial % len(PLACES)]}{serial:04d}号"


def plan_devices(config: SimConfig) -> list[DevicePlan]:
    plans = []
    civil = config.region.ljust(6, "0")[:6]
    for index in range(config.devices):
        serial = config.first_serial + index
        type_code = NVR_TYPE if config.is_nvr else IPC_TYPE
        device_id = make_device_id(config.region, type_code, serial)
        kind = "NVR" if config.is_nvr else "IPC"
        plan = DevicePlan(
            device_id=device_id,
            name=f"模拟{kind}-{serial:06d}",
            model=f"SIM-{kind}",
            civil_code=civil,
        )
        for number in range(1, config.channels + 1):
            channel_serial = (serial - 1) * config.channels + number
            plan.channels.append(
                ChannelPlan(
                    make_device_id(config.region, CHANNEL_TYPE, channel_serial),
                    channel_name(channel_serial),
                )
            )
        plans.append(plan)
    return plans
