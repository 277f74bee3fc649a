"""The simulated PTZ head: motion at the commanded speeds, stop and snapping, limits, presets,
and the device-level handling of DeviceControl (dome vs fixed channels, IPC addressing)."""

from __future__ import annotations

import pytest

from vigil.protocols.gb28181.manscdp import DeviceControl
from vigil.protocols.gb28181.ptz import FocusIris, PresetCommand, PtzMove, ScanCommand
from vigil.sim.device_plan import ChannelPlan, DevicePlan
from vigil.sim.ptz_head import HOME, MAX_ZOOM, PtzHead, Viewport
from vigil.sim.sim_ptz import SimPtz


def test_pan_moves_at_the_commanded_speed_until_stopped() -> None:
    head = PtzHead()
    head.move(PtzMove(pan=1, pan_speed=255), now=10.0)
    assert head.moving
    assert head.viewport(10.5).pan == pytest.approx(0.5)  # full speed: a screen per second
    head.move(PtzMove(), now=10.5)
    assert not head.moving
    assert head.viewport(20.0) == Viewport(pan=0.5)  # stays where it stopped


def test_half_speed_left_and_down() -> None:
    head = PtzHead()
    head.move(PtzMove(pan=-1, tilt=-1, pan_speed=128, tilt_speed=64), now=0.0)
    view = head.viewport(1.0)
    assert view.pan == pytest.approx(-128 / 255)
    assert view.tilt == pytest.approx(-64 / 255)


def test_zoom_in_doubles_per_second_at_full_speed_and_slows_panning() -> None:
    head = PtzHead()
    head.move(PtzMove(zoom=1, zoom_speed=15), now=0.0)
    assert head.viewport(1.0).zoom == pytest.approx(2.0)
    head.move(PtzMove(), now=1.0)
    head.move(PtzMove(pan=1, pan_speed=255), now=1.0)
    assert head.viewport(2.0).pan == pytest.approx(0.5)  # half the apparent speed at 2×


def test_limits_hold_in_every_direction() -> None:
    head = PtzHead()
    head.move(PtzMove(pan=1, tilt=1, zoom=1, pan_speed=255, tilt_speed=255, zoom_speed=15), 0.0)
    assert head.viewport(100.0) == Viewport(pan=1.0, tilt=1.0, zoom=MAX_ZOOM)
    head.move(PtzMove(zoom=-1, zoom_speed=15), now=100.0)
    assert head.viewport(200.0).zoom == 1.0


def test_stop_snaps_to_the_grid_so_stopped_views_repeat() -> None:
    head = PtzHead()
    head.move(PtzMove(pan=1, pan_speed=100), now=0.0)
    head.move(PtzMove(), now=0.3137)
    stopped = head.viewport(1.0)
    assert stopped == stopped.quantised()
    assert stopped.pan * 64 == round(stopped.pan * 64)
    assert abs(stopped.pan - 0.3137 * 100 / 255) <= 1 / 128


def test_presets_store_recall_and_delete_views() -> None:
    head = PtzHead()
    head.move(PtzMove(pan=1, tilt=1, pan_speed=255, tilt_speed=255), now=0.0)
    head.move(PtzMove(), now=0.25)
    assert head.preset(PresetCommand("set", 7), now=0.25)
    there = head.viewport(0.25)
    head.move(PtzMove(pan=-1, pan_speed=255), now=1.0)
    head.move(PtzMove(), now=2.0)
    assert head.viewport(2.0) != there
    assert head.preset(PresetCommand("call", 7), now=3.0)
    assert head.viewport(3.0) == there
    assert head.preset(PresetCommand("delete", 7), now=3.0)
    assert not head.preset(PresetCommand("call", 7), now=3.0)
    assert not head.preset(PresetCommand("delete", 7), now=3.0)


def test_focus_and_iris_are_accepted_and_kept() -> None:
    head = PtzHead()
    head.focus(FocusIris(iris=1, iris_speed=9))
    assert head.focus_iris == FocusIris(iris=1, iris_speed=9)
    assert head.viewport(5.0) == HOME


def _plan() -> DevicePlan:
    plan = DevicePlan("34020000001180000001", "NVR", "SIM-NVR", "340200")
    plan.channels = [
        ChannelPlan("34020000001310000001", "dome"),  # odd: PTZType 1
        ChannelPlan("34020000001310000002", "bullet"),  # even: PTZType 3
    ]
    return plan


def _control(target: str, command: str) -> DeviceControl:
    return DeviceControl(sn=1, device_id=target, ptz_cmd=command)


def test_device_steers_domes_and_refuses_fixed_bullets_and_unknown_commands() -> None:
    clock = [0.0]
    ptz = SimPtz(_plan(), lambda: clock[0])
    right = PtzMove(pan=1, pan_speed=255).to_command().serialize()
    assert ptz.control(_control("34020000001310000001", right)) == "OK"
    clock[0] = 0.5
    view = ptz.viewport("34020000001310000001")
    assert view is not None
    assert view.pan == pytest.approx(0.5)
    assert ptz.control(_control("34020000001310000002", right)) == "ERROR"
    assert ptz.viewport("34020000001310000002") is None
    assert ptz.control(_control("34020000001310000009", right)) == "ERROR"  # not ours
    scan = ScanCommand("start", 1).to_command().serialize()
    assert ptz.control(_control("34020000001310000001", scan)) == "ERROR"
    assert ptz.control(_control("34020000001310000001", "A50F0100000000B4")) == "ERROR"  # sum
    assert ptz.refused == 4


def test_an_ipc_is_also_addressed_by_its_own_id() -> None:
    plan = DevicePlan("34020000001320000001", "IPC", "SIM-IPC", "340200")
    plan.channels = [ChannelPlan("34020000001310000001", "dome")]
    ptz = SimPtz(plan, lambda: 1.0)
    zoom = PtzMove(zoom=1, zoom_speed=15).to_command().serialize()
    assert ptz.control(_control(plan.device_id, zoom)) == "OK"
    head = ptz.head("34020000001310000001")
    assert head is not None
    assert head.moving
