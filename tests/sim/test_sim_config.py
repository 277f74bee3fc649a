"""The simulator's options (DESIGN §10 contract) and the identities it simulates."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vigil.protocols.gb28181.charset import encode_body
from vigil.protocols.gb28181.device_id import parse_device_id
from vigil.sim import SimConfig, parse_sim_args
from vigil.sim.device_plan import plan_devices


def test_contract_options() -> None:
    config = parse_sim_args(
        ["--platform", "10.0.0.5:15060", "--devices", "20", "--channels", "8",
         "--password", "s3cret", "--region", "340202", "--transport", "tcp",
         "--keepalive-s", "5"]
    )  # fmt: skip
    assert config.platform == ("10.0.0.5", 15060)
    assert (config.devices, config.channels, config.password) == (20, 8, "s3cret")
    assert (config.region, config.transport, config.keepalive_s) == ("340202", "tcp", 5.0)
    assert config.is_nvr


def test_defaults_and_extras() -> None:
    config = parse_sim_args(["--platform", "127.0.0.1:5060", "--catalog-items", "1",
                             "--no-qop", "--charset", "UTF-8"])  # fmt: skip
    assert (config.devices, config.channels, config.transport) == (1, 1, "udp")
    assert (config.catalog_items_min, config.catalog_items_max) == (1, 1)
    assert not config.digest_qop
    assert config.charset == "UTF-8"
    assert config.platform_id == "34020000002000000001"


@pytest.mark.parametrize(
    "argv",
    [
        ["--platform", "nohost"],
        ["--platform", "1.2.3.4:5060", "--region", "3"],
        ["--platform", "1.2.3.4:5060", "--devices", "2000000"],
        ["--platform", "1.2.3.4:5060", "--catalog-items", "5-2"],
        ["--devices", "3"],
    ],
)
def test_bad_options_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_sim_args(argv)
    assert exited.value.code == 2


def test_ipc_and_nvr_identities() -> None:
    ipcs = plan_devices(SimConfig(devices=3, region="340202", first_serial=10))
    assert [parse_device_id(p.device_id).type_code for p in ipcs] == [132, 132, 132]
    assert ipcs[0].device_id == "34020200001320000010"
    assert all(len(p.channels) == 1 for p in ipcs)
    nvrs = plan_devices(SimConfig(devices=4, channels=16, region="3402"))
    channel_ids = [c.channel_id for p in nvrs for c in p.channels]
    assert len(set(channel_ids)) == 64
    assert {parse_device_id(c).type_code for c in channel_ids} == {131}
    assert parse_device_id(nvrs[0].device_id).type_code == 118
    names = [c.name for p in nvrs for c in p.channels]
    assert any("萳" in name for name in names)
    for name in names:  # every name survives the GB2312-declared encoding
        assert encode_body(name, "GB2312").decode("gb18030") == name


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vigil.sim", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "--platform HOST:PORT" in result.stdout


def test_video_codec_option() -> None:
    assert parse_sim_args(["--platform", "127.0.0.1:5060"]).video_codec == "h264"
    config = parse_sim_args(["--platform", "127.0.0.1:5060", "--video-codec", "h265"])
    assert config.video_codec == "h265"
    with pytest.raises(SystemExit):
        parse_sim_args(["--platform", "127.0.0.1:5060", "--video-codec", "vp9"])
