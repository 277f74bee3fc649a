// Collection-point list: region/organisation sidebar, filter bar, paginated table, export.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t, lang } from "../i18n.js";
import { can } from "../user.js";
import { replaceQuery, navigate } from "../router.js";
import { onChannelStatus, onDeviceStatus } from "../live.js";
import { POINT_CLASSES, NETWORKS, classLabel, networkLabel } from "../format.js";
import { onlineBadge, classBadge } from "../components/badges.js";
import { errorBox } from "../components/error-box.js";
import { selectField, onSearchText, tableLoader } from "../components/filter-bar.js";
import { PAGE_SIZES } from "../components/pager.js";
import { toast } from "../components/toast.js";
import { regionTree } from "../components/tree.js";
import { orgList, loadOrganisations } from "../components/org-list.js";
import { tabs as sidebarTabs } from "../components/tabs.js";

const SHOW_EMPTY_KEY = "vigil.tree.showEmpty";

function stateFrom(query) {
  const limit = Number(query.limit);
  return {
    region: query.region || "",
    org: query.org || "",
    point_class: query.class || "",
    network: query.network || "",
    online: query.online || "",
    q: query.q || "",
    offset: Math.max(0, Number(query.offset) || 0),
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
  };
}

function hashQuery(s) {
  return {
    region: s.region,
    org: s.org,
    class: s.point_class,
    network: s.network,
    online: s.online,
    q: s.q,
    offset: s.offset || "",
    limit: s.limit === 50 ? "" : s.limit,
  };
}

export function apiFilters(s) {
  return {
    region: s.region,
    org: s.org,
    point_class: s.point_class,
    network: s.network,
    online: s.online,
    q: s.q,
  };
}

export function render(root, _params, query) {
  const state = stateFrom(query);
  let organisations = [];

  const treeBox = h("div", { class: "sidebar-body", testid: "tree-panel" }, h("p", { class: "muted" }, t("common.loading")));
  const orgBox = h("div", { class: "sidebar-body", hidden: true, testid: "org-panel" });
  const tabs = sidebarTabs([
    { id: "regions", label: t("tree.title"), panel: treeBox },
    { id: "orgs", label: t("sidebar.orgs"), panel: orgBox },
  ]);
  const sidebar = h("aside", { class: "sidebar", "aria-label": t("sidebar.label") }, tabs, treeBox, orgBox);

  const count = h("span", { class: "muted", testid: "points-count", "aria-live": "polite" });
  const status = h("div", { class: "status-line" });
  const tbody = h("tbody", { testid: "channel-rows" });
  const table = h(
    "table",
    { class: "grid", testid: "channel-table" },
    h("caption", { class: "visually-hidden" }, t("points.title")),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t("col.id")),
        h("th", { scope: "col" }, t("col.name")),
        h("th", { scope: "col" }, t("col.region")),
        h("th", { scope: "col" }, t("col.org")),
        h("th", { scope: "col" }, t("col.class")),
        h("th", { scope: "col" }, t("col.network")),
        h("th", { scope: "col" }, t("col.resolution")),
        h("th", { scope: "col", class: "num" }, t("col.retention")),
        h("th", { scope: "col" }, t("col.status")),
      ),
    ),
    tbody,
  );
  const pagerBox = h("div", { class: "pager-box" });

  // ---- filter bar
  const classSel = selectField("filter-class", t("filter.class"), state.point_class, [
    ["", t("common.all")],
    ...POINT_CLASSES.map((c) => [String(c), classLabel(c)]),
  ]);
  const networkSel = selectField("filter-network", t("filter.network"), state.network, [
    ["", t("common.all")],
    ...NETWORKS.map((n) => [n, networkLabel(n)]),
  ]);
  const onlineSel = selectField("filter-online", t("filter.online"), state.online, [
    ["", t("common.all")],
    ["true", t("online.true")],
    ["false", t("online.false")],
  ]);
  const orgSel = selectField("filter-org", t("filter.org"), state.org, [["", t("common.all")]]);
  const text = h("input", {
    id: "filter-text",
    type: "search",
    class: "input",
    testid: "filter-text",
    value: state.q,
    placeholder: t("filter.text_placeholder"),
    autocomplete: "off",
  });
  const regionChip = h("span", { class: "chip-box", testid: "region-chip" });

  classSel.control.addEventListener("change", () => update({ point_class: classSel.control.value }));
  networkSel.control.addEventListener("change", () => update({ network: networkSel.control.value }));
  onlineSel.control.addEventListener("change", () => update({ online: onlineSel.control.value }));
  orgSel.control.addEventListener("change", () => update({ org: orgSel.control.value }));
  const onText = onSearchText(text, (q) => update({ q }));

  const filters = h(
    "form",
    { class: "filters", role: "search", testid: "filters", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field field-grow" }, h("label", { for: "filter-text" }, t("filter.text")), text),
    classSel.field,
    networkSel.field,
    onlineSel.field,
    orgSel.field,
    h(
      "div",
      { class: "field field-end" },
      h("button", { type: "button", class: "btn", testid: "filter-clear", onclick: clearFilters }, t("filter.clear")),
    ),
  );

  const exportBox = can("ledger.export")
    ? h(
        "div",
        { class: "btn-group", role: "group", "aria-label": t("export.label") },
        h("button", { type: "button", class: "btn", testid: "export-csv", onclick: () => doExport("csv") }, t("export.csv")),
        h("button", { type: "button", class: "btn", testid: "export-xlsx", onclick: () => doExport("xlsx") }, t("export.xlsx")),
      )
    : null;

  const content = h(
    "section",
    { class: "content", "aria-labelledby": "points-title" },
    h(
      "div",
      { class: "toolbar" },
      h("h1", { id: "points-title", class: "page-title" }, t("points.title")),
      regionChip,
      count,
      h("span", { class: "spacer" }),
      exportBox,
    ),
    filters,
    status,
    h("div", { class: "table-wrap" }, table),
    pagerBox,
  );
  root.append(h("div", { class: "split" }, sidebar, content));

  // ---- data
  let tree = null;
  let regionNames = new Map();
  api
    .get("/regions/tree")
    .then((answer) => {
      const nodes = (answer && answer.nodes) || [];
      regionNames = flattenNames(nodes);
      const showEmpty = localStorage.getItem(SHOW_EMPTY_KEY) === "true";
      tree = regionTree({ nodes, selected: state.region, showEmpty, onSelect: (code) => update({ region: code }) });
      const toggle = h("input", { id: "tree-show-empty", type: "checkbox", testid: "tree-show-empty", checked: showEmpty });
      toggle.addEventListener("change", () => {
        localStorage.setItem(SHOW_EMPTY_KEY, String(toggle.checked));
        tree.setShowEmpty(toggle.checked);
      });
      replace(
        treeBox,
        h("div", { class: "tree-options check" }, toggle, h("label", { for: "tree-show-empty" }, t("tree.show_empty"))),
        tree.element,
      );
      renderRegionChip();
    })
    .catch((err) => replace(treeBox, errorBox(err)));

  loadOrganisations()
    .then((items) => {
      organisations = items;
      for (const o of items) orgSel.control.append(h("option", { value: String(o.id) }, o.name));
      orgSel.control.value = state.org;
      renderOrgPanel();
    })
    .catch((err) => replace(orgBox, errorBox(err)));

  let orgPanel = null;
  function renderOrgPanel() {
    orgPanel = orgList({ items: organisations, selected: state.org, onSelect: (id) => update({ org: id }) });
    replace(orgBox, orgPanel.element);
  }

  function renderRegionChip() {
    if (!state.region) {
      replace(regionChip);
      return;
    }
    const name = regionNames.get(state.region) || state.region;
    replace(
      regionChip,
      h(
        "span",
        { class: "chip" },
        `${t("filter.region")}: ${name}`,
        h(
          "button",
          { type: "button", class: "chip-x", "aria-label": t("filter.clear_region"), onclick: () => update({ region: "" }) },
          "×",
        ),
      ),
    );
  }

  function update(changes) {
    Object.assign(state, changes, { offset: "offset" in changes ? changes.offset : 0 });
    replaceQuery(hashQuery(state));
    if ("region" in changes) {
      if (tree) tree.select(state.region);
      renderRegionChip();
    }
    if ("org" in changes) {
      orgSel.control.value = state.org;
      if (orgPanel) orgPanel.select(state.org);
    }
    load();
  }

  function clearFilters() {
    classSel.control.value = "";
    networkSel.control.value = "";
    onlineSel.control.value = "";
    text.value = "";
    update({ point_class: "", network: "", online: "", q: "", org: "", region: "" });
  }

  const load = tableLoader({
    table,
    tbody,
    status,
    count,
    countText: (total) => t("points.count", { total }),
    pagerBox,
    state,
    fetch: () => api.get("/channels", { ...apiFilters(state), offset: state.offset, limit: state.limit }),
    row: channelRow,
    emptyRow,
    onPage: (p) => update({ offset: p.offset, limit: p.limit }),
  });

  async function doExport(format) {
    try {
      const name = await api.download(
        "/ledger/export",
        { format, lang: lang(), ...apiFilters(state) },
        `ledger.${format}`,
      );
      toast(t("export.done", { name }));
    } catch (err) {
      replace(status, errorBox(err));
    }
  }

  const unsubscribeChannel = onChannelStatus(({ id, online }) => {
    const row = tbody.querySelector(`tr[data-id="${CSS.escape(String(id))}"]`);
    if (row) setRowOnline(row, online);
  });
  // A device going offline takes its channels with it; coming back, each channel reports itself.
  const unsubscribeDevice = onDeviceStatus(({ device_id: deviceId, online }) => {
    if (online || !deviceId) return;
    tbody.querySelectorAll(`tr[data-device-id="${CSS.escape(String(deviceId))}"]`).forEach((row) => setRowOnline(row, false));
  });

  load();
  return () => {
    onText.cancel();
    unsubscribeChannel();
    unsubscribeDevice();
  };
}

function channelRow(c) {
  const open = () => navigate(`/points/${encodeURIComponent(c.id)}`);
  const link = h("a", { href: `#/points/${encodeURIComponent(c.id)}`, testid: "channel-link" }, c.name || c.id);
  return h(
    "tr",
    {
      testid: "channel-row",
      dataset: { id: c.id, deviceId: c.device_id || "", online: String(Boolean(c.online)), region: c.region_code, pointClass: String(c.point_class), network: c.network },
      class: "clickable",
      onclick: (e) => {
        if (!e.target.closest("a")) open();
      },
    },
    h("td", { class: "mono" }, c.id),
    h("td", { class: "name-cell" }, link),
    h("td", { title: c.region_code }, c.region_name || c.region_code),
    h("td", {}, c.org_name || ""),
    h("td", {}, classBadge(c.point_class)),
    h("td", {}, networkLabel(c.network)),
    h("td", {}, c.resolution || "", c.hd ? h("span", { class: "tag tag-hd" }, t("common.hd")) : null),
    h("td", { class: "num" }, c.retention_days ?? ""),
    h("td", { dataset: { statusCell: "" } }, onlineBadge(c.online)),
  );
}

function setRowOnline(row, online) {
  row.dataset.online = String(Boolean(online));
  replace(row.querySelector("[data-status-cell]"), onlineBadge(online));
}

function emptyRow() {
  return h("tr", { class: "empty" }, h("td", { colspan: "9", testid: "channels-empty" }, t("points.empty")));
}

function flattenNames(nodes, out = new Map()) {
  for (const n of nodes) {
    out.set(n.code, n.name);
    if (Array.isArray(n.children)) flattenNames(n.children, out);
  }
  return out;
}
