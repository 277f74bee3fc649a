// Status and class badges shared by the list and the detail page.

import { h } from "../dom.js";
import { classLabel, onlineLabel, deviceStatusLabel } from "../format.js";

export function onlineBadge(online) {
  return h(
    "span",
    { class: online ? "badge badge-online" : "badge badge-offline", testid: "online-badge", dataset: { online: String(Boolean(online)) } },
    onlineLabel(online),
  );
}

export function classBadge(pointClass) {
  return h("span", { class: `tag tag-class-${pointClass}` }, classLabel(pointClass));
}

export function deviceStatusBadge(status) {
  return h(
    "span",
    { class: `tag tag-status-${status || "unknown"}`, testid: "device-status", dataset: { status: status || "" } },
    deviceStatusLabel(status),
  );
}
