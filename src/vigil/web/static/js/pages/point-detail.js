// One collection point: its attributes as an edit form (per-field validation errors from the
// server shown beside each field) and its read-only device and status facts.

import { api, ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { onChannelStatus, onDeviceStatus } from "../live.js";
import { POINT_CLASSES, NETWORKS, PTZ_TYPES, classLabel, networkLabel, ptzLabel, dateTime } from "../format.js";
import { errorBox } from "../components/error-box.js";
import { toast } from "../components/toast.js";
import { loadOrganisations } from "../components/org-list.js";
import { onlineBadge } from "../components/badges.js";
import { recordingPolicyPanel } from "../components/recording-policy.js";

// name → {kind, options?, required?}; the order is the order on screen, grouped in fieldsets.
const SECTIONS = [
  ["point.section.identity", ["name", "region_code", "org_id", "point_class", "network", "secrecy"]],
  ["point.section.video", ["resolution", "hd", "ptz_type", "retention_override"]],
  ["point.section.location", ["address", "longitude", "latitude", "civil_code"]],
];

const FIELDS = {
  name: { kind: "text", required: true, maxlength: 200 },
  region_code: { kind: "text", required: true, pattern: "\\d{2}|\\d{4}|\\d{6}|\\d{8}", inputmode: "numeric", list: "region-codes" },
  org_id: { kind: "select", options: () => [] }, // filled once organisations load
  point_class: { kind: "select", options: () => POINT_CLASSES.map((c) => [String(c), classLabel(c)]) },
  network: { kind: "select", options: () => NETWORKS.map((n) => [n, networkLabel(n)]) },
  secrecy: { kind: "checkbox" },
  resolution: { kind: "text", maxlength: 16, placeholder: "1920x1080" },
  hd: { kind: "checkbox" },
  ptz_type: { kind: "select", options: () => [["", t("ptz.none")], ...PTZ_TYPES.map((p) => [String(p), ptzLabel(p)])] },
  retention_override: { kind: "number", min: 1, max: 3650, step: 1, hint: "field.retention_override_hint" },
  address: { kind: "text", maxlength: 200 },
  longitude: { kind: "number", min: -180, max: 180, step: "any" },
  latitude: { kind: "number", min: -90, max: 90, step: "any" },
  civil_code: { kind: "text", maxlength: 8, inputmode: "numeric" },
};

function toControlValue(name, value) {
  if (FIELDS[name].kind === "checkbox") return Boolean(value);
  return value === null || value === undefined ? "" : String(value);
}

function fromControl(name, control) {
  const kind = FIELDS[name].kind;
  if (kind === "checkbox") return control.checked;
  const raw = control.value.trim();
  if (["org_id", "point_class", "ptz_type", "retention_override", "longitude", "latitude"].includes(name)) {
    return raw === "" ? null : Number(raw);
  }
  return raw;
}

export function render(root, params) {
  const id = params.id;
  const editable = can("registry.write");
  const head = h("div", { class: "toolbar" });
  const alerts = h("div", { class: "alerts" });
  const body = h("div", { class: "detail" }, h("p", { class: "muted" }, t("common.loading")));
  root.append(h("section", { class: "content page", testid: "point-detail" }, head, alerts, body));

  let channel = null;
  const controls = {};
  const errors = {};

  function renderHead() {
    replace(
      head,
      h("a", { href: "#/points", class: "btn btn-small", testid: "point-back" }, `‹ ${t("point.back")}`),
      h("h1", { class: "page-title" }, channel ? channel.name : id),
      h("span", { class: "mono muted" }, id),
      channel ? h("span", { testid: "point-online" }, onlineBadge(channel.online)) : null,
      can("live.view")
        ? h("a", { href: `#/live?channel=${encodeURIComponent(id)}`, class: "btn btn-small", testid: "point-live" }, t("point.live"))
        : null,
      can("export.create")
        ? h("a", { href: `#/exports?channel=${encodeURIComponent(id)}`, class: "btn btn-small", testid: "point-export" }, t("point.export"))
        : null,
    );
  }

  function fieldRow(name) {
    const def = FIELDS[name];
    const cid = `point-${name}`;
    const errId = `${cid}-error`;
    const value = toControlValue(name, channel[name]);
    let control;
    if (def.kind === "select") {
      control = h(
        "select",
        { id: cid, class: "input", name, testid: `point-${name}`, value, disabled: !editable },
        def.options().map(([v, text]) => h("option", { value: v }, text)),
      );
    } else if (def.kind === "checkbox") {
      control = h("input", { id: cid, type: "checkbox", name, testid: `point-${name}`, checked: value, disabled: !editable });
    } else {
      control = h("input", {
        id: cid,
        type: def.kind === "number" ? "number" : "text",
        class: "input",
        name,
        testid: `point-${name}`,
        value,
        required: def.required,
        maxlength: def.maxlength,
        min: def.min,
        max: def.max,
        step: def.step,
        pattern: def.pattern,
        inputmode: def.inputmode,
        list: def.list,
        placeholder: def.placeholder,
        disabled: !editable,
      });
    }
    control.setAttribute("aria-describedby", errId);
    controls[name] = control;
    errors[name] = h("div", { id: errId, class: "field-error", testid: `field-error-${name}`, "aria-live": "polite" });
    const label = h("label", { for: cid }, t(`field.${name}`));
    if (def.kind === "checkbox") {
      return h("div", { class: "form-row form-row-check" }, h("span"), h("div", {}, h("span", { class: "check" }, control, label), errors[name]));
    }
    return h(
      "div",
      { class: "form-row" },
      label,
      h("div", {}, control, def.hint ? h("div", { class: "hint" }, t(def.hint)) : null, errors[name]),
    );
  }

  function facts() {
    const rows = [
      ["field.device_id", channel.device_id, channel.device_id && can("registry.read") ? h("a", { href: `#/devices/${encodeURIComponent(channel.device_id)}`, class: "mono", testid: "point-device-link" }, channel.device_id) : null],
      ["field.region_name", channel.region_name ? `${channel.region_name} (${channel.region_code})` : channel.region_code],
      ["field.org_name", channel.org_name],
      ["field.retention_days", channel.retention_days],
      ["field.manufacturer", channel.manufacturer],
      ["field.model", channel.model],
      ["field.online", null, onlineBadge(channel.online)],
      ["field.status_changed_at", dateTime(channel.status_changed_at)],
      ["field.created_at", dateTime(channel.created_at)],
      ["field.updated_at", dateTime(channel.updated_at)],
    ];
    return h(
      "aside",
      { class: "panel facts", "aria-label": t("point.section.device") },
      h("h2", { class: "panel-title" }, t("point.section.device")),
      h(
        "dl",
        { class: "facts-list", testid: "point-facts" },
        rows.map(([key, text, node]) => [
          h("dt", {}, t(key)),
          h("dd", { dataset: { fact: key.replace("field.", "") } }, node || (text === null || text === undefined || text === "" ? "—" : String(text))),
        ]),
      ),
    );
  }

  function showFieldErrors(details) {
    const unplaced = [];
    for (const d of details) {
      const name = String(d.field || "").split(".").pop();
      if (errors[name]) {
        errors[name].textContent = d.reason || "";
        controls[name].setAttribute("aria-invalid", "true");
      } else {
        unplaced.push(d);
      }
    }
    return unplaced;
  }

  function clearFieldErrors() {
    for (const name of Object.keys(errors)) {
      errors[name].textContent = "";
      controls[name].removeAttribute("aria-invalid");
    }
  }

  async function save(event) {
    event.preventDefault();
    clearFieldErrors();
    replace(alerts);
    const changes = {};
    for (const name of Object.keys(FIELDS)) {
      const value = fromControl(name, controls[name]);
      const before = channel[name] === undefined ? null : channel[name];
      if (value !== before && !(value === "" && before === null)) changes[name] = value;
    }
    if (Object.keys(changes).length === 0) {
      toast(t("point.no_changes"), "info");
      return;
    }
    const button = event.target.querySelector("[type=submit]");
    button.disabled = true;
    try {
      channel = await api.patch(`/channels/${encodeURIComponent(id)}`, changes);
      draw();
      toast(t("point.saved"));
      replace(alerts, h("div", { class: "alert alert-ok", role: "status", testid: "point-saved" }, t("point.saved")));
    } catch (err) {
      const unplaced = err instanceof ApiError ? showFieldErrors(err.details) : [];
      replace(alerts, errorBox({ ...err, code: err.code, message: err.message, details: unplaced }, { testid: "point-error" }));
      const firstBad = Object.values(controls).find((c) => c.getAttribute("aria-invalid") === "true");
      if (firstBad) firstBad.focus();
    } finally {
      button.disabled = false;
    }
  }

  let organisations = null;
  function fillOrganisations() {
    const select = controls.org_id;
    if (!select) return;
    const current = channel.org_id === null || channel.org_id === undefined ? "" : String(channel.org_id);
    const options = [["", t("common.none_option")]];
    for (const o of organisations || []) options.push([String(o.id), `${o.name} (${o.code})`]);
    if (current && !options.some(([v]) => v === current)) options.push([current, channel.org_name || current]);
    replace(select, options.map(([v, text]) => h("option", { value: v }, text)));
    select.value = current;
  }

  function draw() {
    renderHead();
    const form = h(
      "form",
      { class: "panel form", testid: "point-form", novalidate: true, onsubmit: save, "aria-label": t("point.form") },
      editable ? null : h("p", { class: "muted", testid: "point-readonly" }, t("point.readonly")),
      SECTIONS.map(([title, names]) => h("fieldset", {}, h("legend", {}, t(title)), names.map(fieldRow))),
      editable
        ? h(
            "div",
            { class: "form-actions" },
            h("button", { type: "submit", class: "btn btn-primary", testid: "point-save" }, t("common.save")),
            h("button", { type: "button", class: "btn", testid: "point-reset", onclick: () => draw() }, t("common.reset")),
          )
        : null,
    );
    replace(body, form, h("div", { class: "detail-side" }, facts(), recordingPolicyPanel(id, editable)));
    fillOrganisations();
  }

  api
    .get(`/channels/${encodeURIComponent(id)}`)
    .then((answer) => {
      channel = answer;
      draw();
    })
    .catch((err) => {
      renderHead();
      replace(body, errorBox(err, { testid: "point-error" }));
    });

  loadOrganisations()
    .then((items) => {
      organisations = items;
      if (channel) fillOrganisations();
    })
    .catch(() => {
      organisations = [];
    });

  api
    .get("/regions/tree")
    .then((answer) => {
      const list = h("datalist", { id: "region-codes" });
      const walk = (nodes) =>
        nodes.forEach((n) => {
          list.append(h("option", { value: n.code }, n.name));
          if (Array.isArray(n.children)) walk(n.children);
        });
      walk((answer && answer.nodes) || []);
      root.append(list);
    })
    .catch(() => {});

  renderHead();
  const unsubscribeChannel = onChannelStatus(({ id: changed, online }) => {
    if (!channel || String(changed) !== String(id)) return;
    channel.online = online;
    renderHead();
  });
  const unsubscribeDevice = onDeviceStatus(({ device_id: deviceId, online }) => {
    if (online || !channel || !channel.device_id || String(deviceId) !== String(channel.device_id)) return;
    channel.online = false;
    renderHead();
  });
  return () => {
    unsubscribeChannel();
    unsubscribeDevice();
  };
}
