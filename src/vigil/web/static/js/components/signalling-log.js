// A device's recent SIP messages, oldest first: direction, time, peer and first line per
// entry; a click shows the whole message. load() reads them again.

import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { dateTime, timeOfDay, transportLabel } from "../format.js";
import { errorBox } from "./error-box.js";

/** signallingLog({load}) where load() resolves to {items: [{at, direction, peer, transport, first_line, text}]}. */
export function signallingLog({ load: fetchLog }) {
  const count = h("span", { class: "muted", testid: "siglog-count" });
  const body = h("div", { class: "siglog-body", testid: "siglog-body" }, h("p", { class: "muted" }, t("common.loading")));
  const refreshButton = h(
    "button",
    { type: "button", class: "btn btn-small", testid: "siglog-refresh", onclick: () => load() },
    t("common.refresh"),
  );
  const element = h(
    "section",
    { class: "panel", "aria-labelledby": "siglog-title", testid: "siglog" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "siglog-title", class: "panel-title" }, t("siglog.title")),
      count,
      h("span", { class: "spacer" }),
      refreshButton,
    ),
    body,
  );

  function entry(item, index) {
    const inbound = item.direction === "in";
    const textId = `siglog-text-${index}`;
    const pre = h("pre", { id: textId, class: "siglog-text", testid: "siglog-text", hidden: true }, item.text || item.first_line || "");
    const toggle = h(
      "button",
      {
        type: "button",
        class: "siglog-line",
        testid: "siglog-line",
        "aria-expanded": "false",
        "aria-controls": textId,
        onclick: () => {
          const open = toggle.getAttribute("aria-expanded") !== "true";
          toggle.setAttribute("aria-expanded", open ? "true" : "false");
          pre.hidden = !open;
        },
      },
      h(
        "span",
        { class: inbound ? "siglog-dir dir-in" : "siglog-dir dir-out", title: t(inbound ? "siglog.in" : "siglog.out"), "aria-label": t(inbound ? "siglog.in" : "siglog.out") },
        inbound ? "←" : "→",
      ),
      h("time", { class: "siglog-at mono", datetime: String(item.at || ""), title: dateTime(item.at) }, timeOfDay(item.at)),
      h("span", { class: "siglog-peer mono" }, item.peer || "", item.transport ? ` ${transportLabel(item.transport)}` : ""),
      h("span", { class: "siglog-first mono", testid: "siglog-first-line" }, item.first_line || ""),
    );
    return h("li", { class: "siglog-entry", testid: "siglog-entry", dataset: { direction: item.direction || "" } }, toggle, pre);
  }

  async function load() {
    refreshButton.disabled = true;
    try {
      const answer = await fetchLog();
      const items = (answer && answer.items) || [];
      replace(count, t("siglog.count", { n: items.length }));
      replace(
        body,
        items.length
          ? h("ol", { class: "siglog-list", testid: "siglog-list" }, items.map(entry))
          : h("p", { class: "muted", testid: "siglog-empty" }, t("siglog.empty")),
      );
      body.scrollTop = body.scrollHeight; // the newest messages are the last ones
    } catch (err) {
      replace(count);
      if (err.status === 503) replace(body, h("p", { class: "muted", testid: "siglog-off" }, t("device.state.off")));
      else replace(body, errorBox(err, { testid: "siglog-error" }));
    } finally {
      refreshButton.disabled = false;
    }
  }

  return { element, load };
}
