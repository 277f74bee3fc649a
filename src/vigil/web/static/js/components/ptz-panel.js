// PTZ controls for the live view: eight directions and zoom (press and hold to move, release
// to stop), a speed slider, focus and iris, and presets (set / call / delete).
// Commands go to POST /channels/{id}/ptz one after another, so a release's stop never
// overtakes the move it ends. The panel shows itself only for a steerable camera (GB/T 28181
// catalog PTZType 1 dome, 2 half-dome, 4 and 5 remote-controlled) and only to a user
// allowed to steer (ptz.control).

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { errorHeadline } from "./error-box.js";

export const STEERABLE_PTZ_TYPES = [1, 2, 4, 5];
const DEFAULT_SPEED = 128;

// [testid suffix, label key, symbol, pan, tilt]; the middle of the pad is the stop button
const DIRECTIONS = [
  ["up-left", "ptzpanel.up_left", "↖", -1, 1],
  ["up", "ptzpanel.up", "↑", 0, 1],
  ["up-right", "ptzpanel.up_right", "↗", 1, 1],
  ["left", "ptzpanel.left", "←", -1, 0],
  null,
  ["right", "ptzpanel.right", "→", 1, 0],
  ["down-left", "ptzpanel.down_left", "↙", -1, -1],
  ["down", "ptzpanel.down", "↓", 0, -1],
  ["down-right", "ptzpanel.down_right", "↘", 1, -1],
];

export function isSteerable(channel) {
  return Boolean(channel && STEERABLE_PTZ_TYPES.includes(Number(channel.ptz_type)) && can("ptz.control"));
}

export function ptzPanel() {
  let channel = null;
  let queue = Promise.resolve();
  let releaseHeld = null; // sends the stop of the control held down, if any

  const speed = h("input", {
    type: "range", min: "1", max: "255", value: String(DEFAULT_SPEED), testid: "ptz-speed",
    "aria-label": t("ptzpanel.speed"), class: "ptz-speed",
  });
  const preset = h("input", {
    type: "number", min: "1", max: "255", value: "1", testid: "ptz-preset",
    "aria-label": t("ptzpanel.preset_number"), class: "input ptz-preset-number",
  });
  const status = h("div", { class: "ptz-status muted", testid: "ptz-status", role: "status", "aria-live": "polite" });

  function send(body) {
    const target = channel;
    if (!target) return;
    const path = `/channels/${encodeURIComponent(target.id)}/ptz`;
    queue = queue
      .then(() => api.post(path, body))
      .then(
        (answer) => {
          if (channel === target) replace(status, t("ptzpanel.sent", { command: answer.ptz_cmd || "" }));
        },
        (err) => {
          if (channel === target) replace(status, h("span", { class: "ptz-error" }, `${errorHeadline(err)} ${err.message || ""}`));
        },
      );
  }

  const currentSpeed = () => Number(speed.value) || DEFAULT_SPEED;

  // A control that acts while held: start() on press, the matching stop on release.
  function holdButton(testid, label, symbol, start, stop) {
    const button = h("button", { type: "button", class: "btn btn-small ptz-btn", testid, title: label, "aria-label": label }, symbol);
    const press = (event) => {
      if (releaseHeld) releaseHeld();
      if (event.pointerId !== undefined) button.setPointerCapture?.(event.pointerId);
      button.classList.add("active");
      send(start());
      releaseHeld = () => {
        releaseHeld = null;
        button.classList.remove("active");
        send(stop());
      };
    };
    const release = () => {
      if (releaseHeld && button.classList.contains("active")) releaseHeld();
    };
    button.addEventListener("pointerdown", (event) => {
      if (event.button === 0) press(event);
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) button.addEventListener(type, release);
    button.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && !event.repeat) {
        event.preventDefault();
        press(event);
      }
    });
    button.addEventListener("keyup", (event) => {
      if (event.key === "Enter" || event.key === " ") release();
    });
    button.addEventListener("blur", release);
    return button;
  }

  const stopMove = () => ({ action: "stop" });
  const pad = h(
    "div",
    { class: "ptz-pad", role: "group", "aria-label": t("ptzpanel.directions") },
    DIRECTIONS.map((d) =>
      d === null
        ? h("button", { type: "button", class: "btn btn-small ptz-btn", testid: "ptz-stop", title: t("ptzpanel.stop"), "aria-label": t("ptzpanel.stop"), onclick: () => send(stopMove()) }, "■")
        : holdButton(`ptz-${d[0]}`, t(d[1]), d[2], () => ({ action: "move", pan: d[3], tilt: d[4], speed: currentSpeed() }), stopMove),
    ),
  );
  const lens = (action, direction, testid, key, symbol) =>
    holdButton(testid, t(key), symbol, () => ({ action, direction, speed: currentSpeed() }), () => ({ action, direction: "stop" }));
  const row = (labelKey, ...controls) => h("div", { class: "ptz-row" }, h("span", { class: "ptz-label muted" }, t(labelKey)), ...controls);
  const presetButton = (op, key) =>
    h("button", { type: "button", class: "btn btn-small", testid: `ptz-preset-${op}`, onclick: () => sendPreset(op) }, t(key));

  function sendPreset(op) {
    const number = Number(preset.value);
    if (!Number.isInteger(number) || number < 1 || number > 255) {
      replace(status, h("span", { class: "ptz-error" }, t("ptzpanel.preset_range")));
      return;
    }
    send({ action: "preset", op, preset: number });
  }

  const element = h(
    "section",
    { class: "ptz-panel", testid: "ptz-panel", "aria-label": t("ptzpanel.title"), hidden: true },
    h("h2", { class: "ptz-title" }, t("ptzpanel.title")),
    h(
      "div",
      { class: "ptz-body" },
      pad,
      h(
        "div",
        { class: "ptz-side" },
        row(
          "ptzpanel.zoom",
          holdButton("ptz-zoom-out", t("ptzpanel.zoom_out"), "−", () => ({ action: "move", zoom: -1, speed: currentSpeed() }), stopMove),
          holdButton("ptz-zoom-in", t("ptzpanel.zoom_in"), "+", () => ({ action: "move", zoom: 1, speed: currentSpeed() }), stopMove),
        ),
        row("ptzpanel.focus", lens("focus", "near", "ptz-focus-near", "ptzpanel.focus_near", "−"), lens("focus", "far", "ptz-focus-far", "ptzpanel.focus_far", "+")),
        row("ptzpanel.iris", lens("iris", "close", "ptz-iris-close", "ptzpanel.iris_close", "−"), lens("iris", "open", "ptz-iris-open", "ptzpanel.iris_open", "+")),
        row("ptzpanel.speed", speed),
        row("ptzpanel.preset", preset, presetButton("set", "ptzpanel.preset_set"), presetButton("call", "ptzpanel.preset_call"), presetButton("delete", "ptzpanel.preset_delete")),
      ),
    ),
    status,
  );

  return {
    element,
    /** Steer ``next`` (a channel with id and ptz_type), or hide for null / non-steerable. */
    setChannel(next) {
      if (releaseHeld) releaseHeld();
      channel = isSteerable(next) ? next : null;
      element.hidden = channel === null;
      element.dataset.channel = channel ? channel.id : "";
      replace(status);
    },
    close() {
      if (releaseHeld) releaseHeld();
      channel = null;
    },
  };
}
