// Relative times ("12 s ago") that a page keeps current with refreshTimes; the exact time on hover.

import { h } from "../dom.js";
import { dateTime, relativeTime } from "../format.js";

export function timeAgo(value, attrs = {}) {
  if (!value) return h("span", { class: "muted", ...attrs }, "—");
  return h(
    "time",
    { datetime: String(value), title: dateTime(value), dataset: { relTime: String(value) }, ...attrs },
    relativeTime(value),
  );
}

/** Rewrites every relative time under container (call it every few seconds). */
export function refreshTimes(container) {
  container.querySelectorAll("[data-rel-time]").forEach((el) => {
    el.textContent = relativeTime(el.dataset.relTime);
  });
}
