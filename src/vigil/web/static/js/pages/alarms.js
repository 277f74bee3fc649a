// Platform alarms (storage full, ...): open ones first by default, acknowledge when on duty.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t, has } from "../i18n.js";
import { can } from "../user.js";
import { replaceQuery } from "../router.js";
import { dateTime } from "../format.js";
import { errorBox } from "../components/error-box.js";
import { pager, PAGE_SIZES } from "../components/pager.js";

export function render(root, _params, query) {
  const limit = Number(query.limit);
  const state = {
    open: query.open !== "false",
    offset: Math.max(0, Number(query.offset) || 0),
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
  };
  let generation = 0;

  const openOnly = h("input", { id: "alarms-open", type: "checkbox", testid: "alarms-open", checked: state.open });
  openOnly.addEventListener("change", () => {
    Object.assign(state, { open: openOnly.checked, offset: 0 });
    load();
  });
  const alerts = h("div", { class: "alerts" });
  const tbody = h("tbody", { testid: "alarm-rows" });
  const pagerBox = h("div", { class: "pager-box" });

  root.append(
    h(
      "section",
      { class: "content page", "aria-labelledby": "alarms-title" },
      h(
        "div",
        { class: "toolbar" },
        h("h1", { id: "alarms-title", class: "page-title" }, t("alarms.title")),
        h("span", { class: "spacer" }),
        h("label", { for: "alarms-open", class: "checkbox" }, openOnly, ` ${t("alarms.open_only")}`),
      ),
      alerts,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", testid: "alarms-table" },
          h("caption", { class: "visually-hidden" }, t("alarms.title")),
          h(
            "thead",
            {},
            h("tr", {}, ["alarms.at", "alarms.severity", "alarms.kind", "alarms.source", "alarms.message", "alarms.state", ""].map((k) => h("th", { scope: "col" }, k ? t(k) : ""))),
          ),
          tbody,
        ),
      ),
      pagerBox,
    ),
  );

  function row(alarm) {
    const severityClass = { critical: "badge badge-bad", major: "badge badge-warn" }[alarm.severity] || "badge";
    const stateText = alarm.open ? t("alarms.open") : t("alarms.cleared_at", { at: dateTime(alarm.cleared_at) });
    const ackCell = alarm.acknowledged_at
      ? h("span", { class: "muted", testid: "alarm-acked" }, t("alarms.acked_by", { who: alarm.acknowledged_by, at: dateTime(alarm.acknowledged_at) }))
      : can("devices.manage")
        ? h("button", { type: "button", class: "btn btn-small", testid: "alarm-ack", onclick: () => acknowledge(alarm.id) }, t("alarms.ack"))
        : null;
    return h(
      "tr",
      { testid: "alarm-row", dataset: { id: String(alarm.id), kind: alarm.kind, open: String(alarm.open) } },
      h("td", { class: "nowrap" }, dateTime(alarm.at)),
      h("td", {}, h("span", { class: severityClass }, t(`alarms.severity.${alarm.severity}`))),
      h("td", {}, has(`alarms.kind.${alarm.kind}`) ? t(`alarms.kind.${alarm.kind}`) : alarm.kind),
      h("td", { class: "mono" }, alarm.source),
      h("td", { class: "detail-cell", title: alarm.message }, alarm.message),
      h("td", {}, stateText),
      h("td", {}, ackCell),
    );
  }

  async function acknowledge(id) {
    try {
      await api.post(`/alarms/${id}/ack`);
      load();
    } catch (err) {
      replace(alerts, errorBox(err));
    }
  }

  async function load() {
    generation += 1;
    const mine = generation;
    replaceQuery({ open: state.open ? "" : "false", offset: state.offset || "", limit: state.limit === 50 ? "" : state.limit });
    try {
      const answer = await api.get("/alarms", { open: state.open ? "true" : "", offset: state.offset, limit: state.limit });
      if (mine !== generation) return;
      const items = answer.items || [];
      replace(alerts);
      replace(tbody, items.length ? items.map(row) : h("tr", {}, h("td", { colspan: "7", testid: "alarms-empty" }, t("alarms.none"))));
      replace(pagerBox, pager({ offset: state.offset, limit: state.limit, total: answer.total, onChange: (p) => { Object.assign(state, p); load(); } }));
    } catch (err) {
      if (mine === generation) replace(alerts, errorBox(err));
    }
  }

  load();
  return undefined;
}
