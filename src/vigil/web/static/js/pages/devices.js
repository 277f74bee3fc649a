// Device list: filter bar (text, online, status), paginated table; rows follow the live
// device status and open the device detail.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { replaceQuery, navigate } from "../router.js";
import { onDeviceStatus, onStreamState } from "../live.js";
import { DEVICE_STATUSES, deviceStatusLabel, transportLabel } from "../format.js";
import { onlineBadge, deviceStatusBadge } from "../components/badges.js";
import { selectField, onSearchText, tableLoader } from "../components/filter-bar.js";
import { PAGE_SIZES } from "../components/pager.js";
import { timeAgo, refreshTimes } from "../components/time-ago.js";

const TICK_MS = 10000;
const COLUMNS = 8;

function stateFrom(query) {
  const limit = Number(query.limit);
  return {
    online: query.online || "",
    status: query.status || "",
    q: query.q || "",
    offset: Math.max(0, Number(query.offset) || 0),
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
  };
}

function hashQuery(s) {
  return { online: s.online, status: s.status, q: s.q, offset: s.offset || "", limit: s.limit === 50 ? "" : s.limit };
}

export function render(root, _params, query) {
  if (!can("registry.read")) {
    root.append(h("section", { class: "content page" }, h("div", { class: "alert alert-error", role: "alert" }, t("page.forbidden"))));
    return undefined;
  }
  const state = stateFrom(query);

  const count = h("span", { class: "muted", testid: "devices-count", "aria-live": "polite" });
  const status = h("div", { class: "status-line" });
  const tbody = h("tbody", { testid: "device-rows" });
  const table = h(
    "table",
    { class: "grid", testid: "device-table" },
    h("caption", { class: "visually-hidden" }, t("devices.title")),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["col.id", "col.name", "devices.col.make", "devices.col.transport", "devices.col.address", "col.status", "devices.col.keepalive", "devices.col.approval"].map(
          (k) => h("th", { scope: "col" }, t(k)),
        ),
      ),
    ),
    tbody,
  );
  const pagerBox = h("div", { class: "pager-box" });

  const text = h("input", {
    id: "device-filter-text",
    type: "search",
    class: "input",
    testid: "device-filter-text",
    value: state.q,
    placeholder: t("devices.filter.text_placeholder"),
    autocomplete: "off",
  });
  const onlineSel = selectField("device-filter-online", t("filter.online"), state.online, [
    ["", t("common.all")],
    ["true", t("online.true")],
    ["false", t("online.false")],
  ]);
  const statusSel = selectField("device-filter-status", t("devices.filter.status"), state.status, [
    ["", t("common.all")],
    ...DEVICE_STATUSES.map((s) => [s, deviceStatusLabel(s)]),
  ]);
  onlineSel.control.addEventListener("change", () => update({ online: onlineSel.control.value }));
  statusSel.control.addEventListener("change", () => update({ status: statusSel.control.value }));
  const onText = onSearchText(text, (q) => update({ q }));

  root.append(
    h(
      "section",
      { class: "content page", "aria-labelledby": "devices-title", testid: "devices-page" },
      h("div", { class: "toolbar" }, h("h1", { id: "devices-title", class: "page-title" }, t("devices.title")), count),
      h(
        "form",
        { class: "filters", role: "search", testid: "device-filters", onsubmit: (e) => e.preventDefault() },
        h("div", { class: "field field-grow" }, h("label", { for: "device-filter-text" }, t("filter.text")), text),
        onlineSel.field,
        statusSel.field,
        h(
          "div",
          { class: "field field-end" },
          h("button", { type: "button", class: "btn", testid: "device-filter-clear", onclick: clearFilters }, t("filter.clear")),
        ),
      ),
      status,
      h("div", { class: "table-wrap" }, table),
      pagerBox,
    ),
  );

  function update(changes) {
    Object.assign(state, changes, { offset: "offset" in changes ? changes.offset : 0 });
    replaceQuery(hashQuery(state));
    load();
  }

  function clearFilters() {
    onlineSel.control.value = "";
    statusSel.control.value = "";
    text.value = "";
    update({ online: "", status: "", q: "" });
  }

  const load = tableLoader({
    table,
    tbody,
    status,
    count,
    countText: (total) => t("devices.count", { total }),
    pagerBox,
    state,
    fetch: () =>
      api.get("/devices", {
        online: state.online,
        status: state.status,
        q: state.q,
        offset: state.offset,
        limit: state.limit,
      }),
    row: deviceRow,
    emptyRow,
    onPage: (p) => update({ offset: p.offset, limit: p.limit }),
  });

  const unsubscribeDevice = onDeviceStatus((change) => {
    const row = tbody.querySelector(`tr[data-id="${CSS.escape(String(change.device_id))}"]`);
    if (!row) return;
    row.dataset.online = String(change.online);
    replace(row.querySelector("[data-status-cell]"), onlineBadge(change.online));
    if (change.online) {
      if (change.transport) replace(row.querySelector("[data-transport-cell]"), transportLabel(change.transport));
      if (change.address) replace(row.querySelector("[data-address-cell]"), change.address);
    }
  });
  // After a gap in the stream some changes may have been missed: read the page again.
  const unsubscribeStream = onStreamState((s, { reopened }) => {
    if (s === "open" && reopened) load();
  });
  const ticker = setInterval(() => refreshTimes(tbody), TICK_MS);

  load();
  return () => {
    onText.cancel();
    unsubscribeDevice();
    unsubscribeStream();
    clearInterval(ticker);
  };
}

function deviceRow(d) {
  const href = `#/devices/${encodeURIComponent(d.id)}`;
  const make = [d.manufacturer, d.model].filter(Boolean).join(" / ");
  return h(
    "tr",
    {
      testid: "device-row",
      class: "clickable",
      dataset: { id: d.id, online: String(Boolean(d.online)), status: d.status || "" },
      onclick: (e) => {
        if (!e.target.closest("a")) navigate(`/devices/${encodeURIComponent(d.id)}`);
      },
    },
    h("td", { class: "mono" }, d.id),
    h("td", { class: "name-cell" }, h("a", { href, testid: "device-link", class: d.name ? null : "unnamed" }, d.name || t("devices.unnamed"))),
    h("td", {}, make),
    h("td", { dataset: { transportCell: "" } }, transportLabel(d.transport)),
    h("td", { class: "mono", dataset: { addressCell: "" } }, d.address || ""),
    h("td", { dataset: { statusCell: "" } }, onlineBadge(d.online)),
    h("td", { class: "nowrap" }, timeAgo(d.last_keepalive_at)),
    h("td", {}, deviceStatusBadge(d.status)),
  );
}

function emptyRow() {
  return h("tr", { class: "empty" }, h("td", { colspan: String(COLUMNS), testid: "devices-empty" }, t("devices.empty")));
}
