// One device: its recorded fields, its live signalling state, its channels, queries sent to it
// (catalog, device info, device status), approval and disabling, and its recent SIP messages.

import { api } from "../api.js";
import { h, replace, debounce } from "../dom.js";
import { t, has } from "../i18n.js";
import { can } from "../user.js";
import { onChannelStatus, onDeviceStatus, onCatalog, onStreamState } from "../live.js";
import { dateTime, transportLabel, yesNo } from "../format.js";
import { onlineBadge, deviceStatusBadge } from "../components/badges.js";
import { errorBox } from "../components/error-box.js";
import { openDialog } from "../components/dialog.js";
import { toast } from "../components/toast.js";
import { timeAgo, refreshTimes } from "../components/time-ago.js";
import { signallingLog } from "../components/signalling-log.js";

const CHANNEL_PAGE = 500;
const CHANNEL_MAX = 5000;
const TICK_MS = 5000;
const CATALOG_RELOAD_MS = 500;

export function render(root, params) {
  const id = params.id;
  if (!can("registry.read")) {
    root.append(h("section", { class: "content page" }, h("div", { class: "alert alert-error", role: "alert" }, t("page.forbidden"))));
    return undefined;
  }
  const manage = can("devices.manage");
  const path = `/devices/${encodeURIComponent(id)}`;

  const head = h("div", { class: "toolbar" });
  const alerts = h("div", { class: "alerts", "aria-live": "polite" });
  const factsBox = h("div", { testid: "device-facts-box" }, h("p", { class: "muted" }, t("common.loading")));
  const stateBox = h("div", { testid: "device-state-box", "aria-live": "polite" });
  const resultBox = h("div", { class: "query-result", testid: "device-result-box", "aria-live": "polite" });
  const channelCount = h("span", { class: "muted", testid: "device-channel-count" });
  const channelBody = h("tbody", { testid: "device-channel-rows" });
  const channelTable = h(
    "table",
    { class: "grid compact", testid: "device-channel-table" },
    h("caption", { class: "visually-hidden" }, t("device.channels")),
    h("thead", {}, h("tr", {}, ["col.id", "col.name", "col.status"].map((k) => h("th", { scope: "col" }, t(k))))),
    channelBody,
  );
  const log = signallingLog({ load: () => api.get(`${path}/signalling-log`) });

  const queryButtons = [
    manage ? queryButton("device-catalog", "device.query.catalog", refreshCatalog) : null,
    queryButton("device-info", "device.query.info", queryInfo),
    queryButton("device-status-query", "device.query.status", queryStatus),
  ];

  root.append(
    h(
      "section",
      { class: "content page", testid: "device-detail", dataset: { id } },
      head,
      alerts,
      h(
        "div",
        { class: "detail" },
        h(
          "div",
          { class: "stack" },
          h(
            "section",
            { class: "panel", "aria-labelledby": "device-queries-title" },
            h(
              "div",
              { class: "panel-head" },
              h("h2", { id: "device-queries-title", class: "panel-title" }, t("device.queries")),
              h("span", { class: "spacer" }),
              h("div", { class: "btn-row" }, queryButtons),
            ),
            resultBox,
          ),
          h(
            "section",
            { class: "panel", "aria-labelledby": "device-channels-title" },
            h(
              "div",
              { class: "panel-head" },
              h("h2", { id: "device-channels-title", class: "panel-title" }, t("device.channels")),
              channelCount,
            ),
            h("div", { class: "table-wrap" }, channelTable),
          ),
          log.element,
        ),
        h(
          "div",
          { class: "stack" },
          h(
            "aside",
            { class: "panel facts", "aria-labelledby": "device-facts-title" },
            h("h2", { id: "device-facts-title", class: "panel-title" }, t("device.fields")),
            factsBox,
          ),
          h(
            "aside",
            { class: "panel facts", "aria-labelledby": "device-state-title" },
            h(
              "div",
              { class: "panel-head" },
              h("h2", { id: "device-state-title", class: "panel-title" }, t("device.state")),
              h("span", { class: "spacer" }),
              h(
                "button",
                { type: "button", class: "btn btn-small", testid: "device-state-refresh", onclick: () => loadState() },
                t("common.refresh"),
              ),
            ),
            stateBox,
          ),
        ),
      ),
    ),
  );

  let device = null;

  // ---- head: name, badges, approval and disabling

  function renderHead() {
    const actions = [];
    if (manage && device) {
      if (device.status === "pending") {
        actions.push(h("button", { type: "button", class: "btn btn-primary", testid: "device-approve", onclick: approve }, t("device.approve")));
      }
      if (device.status === "disabled") {
        actions.push(h("button", { type: "button", class: "btn", testid: "device-enable", onclick: enable }, t("device.enable")));
      } else {
        actions.push(h("button", { type: "button", class: "btn btn-danger", testid: "device-disable", onclick: disable }, t("device.disable")));
      }
    }
    replace(
      head,
      h("a", { href: "#/devices", class: "btn btn-small", testid: "device-back" }, `‹ ${t("device.back")}`),
      h("h1", { class: "page-title", testid: "device-title" }, device && device.name ? device.name : id),
      device && device.name ? h("span", { class: "mono muted" }, id) : null,
      device ? h("span", { testid: "device-online" }, onlineBadge(device.online)) : null,
      device ? deviceStatusBadge(device.status) : null,
      h("span", { class: "spacer" }),
      actions,
    );
  }

  async function setStatus(status, doneKey) {
    device = await api.patch(path, { status });
    renderHead();
    renderFacts();
    toast(t(doneKey, { name: device.name || device.id }));
  }

  function approve(event) {
    const button = event.currentTarget;
    button.disabled = true;
    replace(alerts);
    setStatus("active", "device.approved").catch((err) => {
      button.disabled = false;
      replace(alerts, errorBox(err, { testid: "device-error" }));
    });
  }

  function enable(event) {
    const button = event.currentTarget;
    button.disabled = true;
    replace(alerts);
    setStatus("active", "device.enabled").catch((err) => {
      button.disabled = false;
      replace(alerts, errorBox(err, { testid: "device-error" }));
    });
  }

  function disable() {
    const errorSlot = h("div", { class: "alerts" });
    openDialog({
      title: t("device.disable"),
      body: [errorSlot, h("p", {}, t("device.disable_confirm", { name: device.name || device.id }))],
      submitLabel: t("device.disable"),
      danger: true,
      testid: "device-disable-dialog",
      onSubmit: async () => {
        try {
          await setStatus("disabled", "device.disabled_done");
        } catch (err) {
          replace(errorSlot, errorBox(err));
          throw err;
        }
      },
    });
  }

  // ---- recorded fields

  function renderFacts() {
    if (!device) return;
    const d = device;
    const rows = [
      ["device.f.id", d.id],
      ["device.f.name", d.name],
      ["device.f.kind", d.type_name ? `${d.kind} · ${d.type_name}` : d.kind],
      ["device.f.status", null, deviceStatusBadge(d.status)],
      ["device.f.region_code", d.region_code],
      ["device.f.org_id", d.org_id],
      ["device.f.manufacturer", d.manufacturer],
      ["device.f.model", d.model],
      ["device.f.firmware", d.firmware],
      ["device.f.password", t(d.has_own_password ? "device.password.own" : "device.password.default")],
      d.kind === "rtsp" ? ["device.f.rtsp_url", d.rtsp_url] : null,
      ["device.f.transport", transportLabel(d.transport)],
      ["device.f.address", d.address],
      ["device.f.online", null, onlineBadge(d.online)],
      ["device.f.last_keepalive_at", null, timeAgo(d.last_keepalive_at)],
      ["device.f.registered_at", dateTime(d.registered_at)],
      ["device.f.created_at", dateTime(d.created_at)],
      ["device.f.updated_at", dateTime(d.updated_at)],
    ].filter(Boolean);
    replace(factsBox, factList(rows, "device-facts"));
  }

  async function loadDevice() {
    try {
      device = await api.get(path);
      renderHead();
      renderFacts();
    } catch (err) {
      renderHead();
      replace(factsBox);
      replace(alerts, errorBox(err, { testid: "device-error" }));
    }
  }

  // ---- live state from the signalling server

  async function loadState() {
    try {
      const s = await api.get(`${path}/state`);
      replace(
        stateBox,
        factList(
          [
            ["device.s.online", null, onlineBadge(s.online)],
            ["device.s.presumed", yesNo(s.presumed)],
            ["device.s.registered", yesNo(s.registered)],
            ["device.s.status", null, s.status ? deviceStatusBadge(s.status) : null],
            ["device.s.transport", transportLabel(s.transport)],
            ["device.s.address", s.address],
            ["device.s.registered_at", dateTime(s.registered_at)],
            ["device.s.last_keepalive_at", null, timeAgo(s.last_keepalive_at)],
            ["device.s.expires_in_s", s.expires_in_s === null || s.expires_in_s === undefined ? "" : t("time.seconds_n", { n: Math.round(s.expires_in_s) })],
          ],
          "device-state",
          { online: String(Boolean(s.online)) },
        ),
      );
    } catch (err) {
      if (err.status === 404) {
        replace(stateBox, h("p", { class: "muted", testid: "device-state-none" }, t("device.state.never")));
      } else if (err.status === 503) {
        replace(stateBox, h("p", { class: "muted", testid: "device-state-off" }, t("device.state.off")));
      } else {
        replace(stateBox, errorBox(err, { testid: "device-state-error" }));
      }
    }
  }

  // ---- channels

  async function loadChannels() {
    try {
      const items = [];
      let total = 0;
      for (let offset = 0; offset < CHANNEL_MAX; offset += CHANNEL_PAGE) {
        const answer = await api.get("/channels", { device: id, offset, limit: CHANNEL_PAGE });
        const page = (answer && answer.items) || [];
        items.push(...page);
        total = answer && typeof answer.total === "number" ? answer.total : items.length;
        if (page.length === 0 || items.length >= total) break;
      }
      replace(channelCount, t("device.channel_count", { total }));
      replace(
        channelBody,
        items.length
          ? items.map(channelRow)
          : h("tr", { class: "empty" }, h("td", { colspan: "3", testid: "device-channels-empty" }, t("device.no_channels"))),
      );
    } catch (err) {
      replace(channelBody, h("tr", {}, h("td", { colspan: "3" }, errorBox(err))));
    }
  }
  const reloadChannels = debounce(loadChannels, CATALOG_RELOAD_MS);

  function setChannelOnline(row, online) {
    row.dataset.online = String(online);
    replace(row.querySelector("[data-status-cell]"), onlineBadge(online));
  }

  // ---- queries sent to the device

  function queryButton(testid, key, action) {
    return h(
      "button",
      {
        type: "button",
        class: "btn",
        testid,
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          replace(resultBox, h("p", { class: "muted", testid: "device-result-working" }, t("device.query.working")));
          try {
            await action();
          } catch (err) {
            replace(resultBox, queryError(err));
          } finally {
            button.disabled = false;
          }
        },
      },
      t(key),
    );
  }

  async function refreshCatalog() {
    const r = await api.post(`${path}/catalog`);
    replace(
      resultBox,
      resultView("catalog", t("device.result.catalog"), [
        ["complete", yesNo(r.complete)],
        ["items", r.items],
        ["added", idList(r.added)],
        ["changed", idList(r.changed)],
        ["removed", idList(r.removed)],
        r.unchanged === undefined ? null : ["unchanged", r.unchanged],
        Array.isArray(r.unplaced) && r.unplaced.length ? ["unplaced", idList(r.unplaced)] : null,
      ].filter(Boolean)),
    );
    loadChannels();
  }

  async function queryInfo() {
    const r = await api.post(`${path}/info`);
    replace(
      resultBox,
      resultView("info", t("device.result.info"), [
        ["result", r.result],
        ["device_name", r.device_name],
        ["manufacturer", r.manufacturer],
        ["model", r.model],
        ["firmware", r.firmware],
        ["channel_count", r.channel_count],
      ]),
    );
    loadDevice(); // the platform records what the device reported
  }

  async function queryStatus() {
    const r = await api.post(`${path}/status`);
    replace(
      resultBox,
      resultView("status", t("device.result.status"), [
        ["result", r.result],
        ["online", r.online],
        ["status", r.status],
        ["encode", r.encode],
        ["record", r.record],
        ["device_time", r.device_time],
        ["reason", r.reason],
      ]),
    );
  }

  // ---- live updates

  const unsubscribers = [
    onDeviceStatus((change) => {
      if (String(change.device_id) !== String(id) || !device) return;
      device = { ...device, online: change.online };
      if (change.online) {
        if (change.transport) device.transport = change.transport;
        if (change.address) device.address = change.address;
      } else {
        channelBody.querySelectorAll("tr[data-id]").forEach((row) => setChannelOnline(row, false));
      }
      renderHead();
      renderFacts();
      loadState();
    }),
    onChannelStatus(({ id: channelId, online }) => {
      const row = channelBody.querySelector(`tr[data-id="${CSS.escape(String(channelId))}"]`);
      if (row) setChannelOnline(row, online);
    }),
    onCatalog((change) => {
      if (String(change.device_id) === String(id)) reloadChannels();
    }),
    onStreamState((s, { reopened }) => {
      if (s === "open" && reopened) {
        loadDevice();
        loadState();
        loadChannels();
      }
    }),
  ];
  const ticker = setInterval(() => refreshTimes(root), TICK_MS);

  renderHead();
  loadDevice();
  loadState();
  loadChannels();
  log.load();
  return () => {
    unsubscribers.forEach((fn) => fn());
    reloadChannels.cancel();
    clearInterval(ticker);
  };
}

function channelRow(c) {
  const href = `#/points/${encodeURIComponent(c.id)}`;
  return h(
    "tr",
    { testid: "device-channel-row", dataset: { id: c.id, deviceId: c.device_id || "", online: String(Boolean(c.online)) } },
    h("td", { class: "mono" }, h("a", { href, testid: "device-channel-link" }, c.id)),
    h("td", { class: "name-cell" }, h("a", { href }, c.name || "")),
    h("td", { dataset: { statusCell: "" } }, onlineBadge(c.online)),
  );
}

function factList(rows, testid, dataset = {}) {
  return h(
    "dl",
    { class: "facts-list", testid, dataset },
    rows.map(([key, text, node]) => [
      h("dt", {}, t(key)),
      h(
        "dd",
        { dataset: { fact: key.split(".").pop() } },
        node || (text === null || text === undefined || text === "" ? "—" : String(text)),
      ),
    ]),
  );
}

function idList(ids) {
  const list = Array.isArray(ids) ? ids : [];
  if (!list.length) return "0";
  return h("span", {}, String(list.length), h("span", { class: "mono muted id-list" }, list.join(", ")));
}

function resultLabel(key) {
  return has(`device.r.${key}`) ? t(`device.r.${key}`) : key;
}

function resultValue(value) {
  if (value instanceof Node) return value;
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return yesNo(value);
  return String(value);
}

function resultView(kind, title, rows) {
  return h(
    "div",
    { class: "result", testid: "device-result", dataset: { kind } },
    h("h3", { class: "result-title" }, title),
    h(
      "dl",
      { class: "facts-list" },
      rows.map(([key, value]) => [h("dt", {}, resultLabel(key)), h("dd", { dataset: { key } }, resultValue(value))]),
    ),
  );
}

function queryError(err) {
  return errorBox(err, { testid: "device-result-error" });
}
