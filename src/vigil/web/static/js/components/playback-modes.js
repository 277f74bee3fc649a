// The two kinds of playback side by side at the top of both playback pages: recordings kept by
// the platform (#/playback) and recordings kept on the devices (#/playback/device).

import { h } from "../dom.js";
import { t } from "../i18n.js";

const MODES = [
  ["platform", "/playback", "playback.mode_platform"],
  ["device", "/playback/device", "playback.mode_device"],
];

/** active: "platform" | "device". */
export function playbackModes(active) {
  return h(
    "nav",
    { class: "btn-group playback-modes", "aria-label": t("playback.modes") },
    MODES.map(([mode, path, key]) =>
      h("a", { href: `#${path}`, class: "btn btn-small", testid: `playback-mode-${mode}`, "aria-current": mode === active ? "page" : null }, t(key)),
    ),
  );
}
