// A point's recording policy: class default, always on or off, or on during daily hours of
// chosen weekdays (the server's weekly windows, in the platform's time zone), and the pool.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { errorBox } from "./error-box.js";
import { toast } from "./toast.js";

const DAY_MINUTES = 1440;

function hhmm(minutes) {
  const m = Math.max(0, Math.min(DAY_MINUTES, minutes));
  return `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

function minutesOf(text) {
  const [hours, mins] = String(text || "00:00").split(":").map(Number);
  return (hours || 0) * 60 + (mins || 0);
}

/** Daily hours on chosen weekdays → [[weekday, start, end], ...]; overnight spans split. */
export function windowsOf(days, from, to) {
  const out = [];
  for (const day of days) {
    if (to > from) out.push([day, from, to]);
    else {
      out.push([day, from, DAY_MINUTES]);
      if (to > 0) out.push([(day + 1) % 7, 0, to]);
    }
  }
  return out;
}

/** The schedule as one daily span on some weekdays, or null when it is more irregular. */
function asDailySpan(schedule) {
  if (!schedule.length) return null;
  const first = schedule[0];
  if (schedule.every((w) => w[1] === first[1] && w[2] === first[2])) {
    return { days: schedule.map((w) => w[0]), from: first[1], to: first[2] };
  }
  return null;
}

export function recordingPolicyPanel(channelId, editable) {
  const body = h("div", { class: "policy-body" }, h("p", { class: "muted" }, t("common.loading")));
  const panel = h(
    "section",
    { class: "panel recording-policy", testid: "recording-policy", "aria-label": t("policy.title") },
    h("h2", { class: "panel-title" }, t("policy.title")),
    body,
  );
  const path = `/channels/${encodeURIComponent(channelId)}/recording-policy`;

  function status(policy) {
    const state = policy.recording === true ? "recording" : policy.scheduled_now && policy.enabled ? "waiting" : "off";
    const text = {
      recording: t("policy.state.recording"),
      waiting: policy.recorder_enabled ? t("policy.state.waiting") : t("policy.state.recorder_off"),
      off: policy.enabled ? t("policy.state.not_scheduled") : t("policy.state.off"),
    }[state];
    return h("p", { class: `badge ${state === "recording" ? "badge-online" : "badge-offline"}`, testid: "policy-state" }, text);
  }

  function draw(policy) {
    const override = policy.override || {};
    const mode = override.enabled === true ? "on" : override.enabled === false ? "off" : "default";
    const span = asDailySpan(policy.schedule) || { days: [0, 1, 2, 3, 4, 5, 6], from: 0, to: DAY_MINUTES };
    const modeSelect = h(
      "select",
      { class: "input", id: "policy-mode", testid: "policy-mode", disabled: !editable, value: mode },
      h("option", { value: "default" }, t(policy.class_default ? "policy.mode.default_on" : "policy.mode.default_off")),
      h("option", { value: "on" }, t("policy.mode.on")),
      h("option", { value: "off" }, t("policy.mode.off")),
    );
    const always = h("input", { type: "checkbox", id: "policy-always", testid: "policy-always", checked: policy.schedule.length === 0, disabled: !editable });
    const dayBoxes = [0, 1, 2, 3, 4, 5, 6].map((d) =>
      h("input", { type: "checkbox", testid: `policy-day-${d}`, checked: span.days.includes(d), disabled: !editable, "aria-label": t(`policy.day.${d}`) }),
    );
    const from = h("input", { type: "time", class: "input", testid: "policy-from", value: hhmm(span.from), disabled: !editable, "aria-label": t("policy.from") });
    const to = h("input", { type: "time", class: "input", testid: "policy-to", value: hhmm(span.to % DAY_MINUTES), disabled: !editable, "aria-label": t("policy.to") });
    const irregular = policy.schedule.length && !asDailySpan(policy.schedule);
    const hours = h(
      "div",
      { class: "policy-hours", hidden: always.checked },
      h("div", { class: "policy-days" }, dayBoxes.map((box, d) => h("label", { class: "check" }, box, t(`policy.day.${d}`)))),
      h("div", { class: "policy-span" }, from, "–", to, h("span", { class: "muted" }, policy.timezone)),
      irregular ? h("p", { class: "hint", testid: "policy-irregular" }, t("policy.irregular")) : null,
    );
    always.addEventListener("change", () => {
      hours.hidden = always.checked;
    });
    const pool =
      policy.pools.length > 1
        ? h("select", { class: "input", testid: "policy-pool", disabled: !editable, value: policy.pool }, policy.pools.map((p) => h("option", { value: p }, p)))
        : null;
    const alerts = h("div", { class: "alerts" });

    async function save(event) {
      event.preventDefault();
      const days = dayBoxes.map((box, d) => (box.checked ? d : -1)).filter((d) => d >= 0);
      const schedule = always.checked ? [] : windowsOf(days, minutesOf(from.value), minutesOf(to.value) || DAY_MINUTES);
      const enabled = { default: null, on: true, off: false }[modeSelect.value];
      try {
        draw(await api.put(path, { enabled, schedule, pool: pool ? pool.value : null }));
        toast(t("policy.saved"));
      } catch (err) {
        replace(alerts, errorBox(err, { testid: "policy-error" }));
      }
    }

    replace(
      body,
      status(policy),
      h(
        "form",
        { class: "form", testid: "policy-form", onsubmit: save },
        h("div", { class: "form-row" }, h("label", { for: "policy-mode" }, t("policy.mode")), modeSelect),
        h("div", { class: "form-row form-row-check" }, h("span"), h("span", { class: "check" }, always, h("label", { for: "policy-always" }, t("policy.always")))),
        hours,
        pool ? h("div", { class: "form-row" }, h("label", {}, t("policy.pool")), pool) : null,
        alerts,
        editable ? h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary", testid: "policy-save" }, t("common.save"))) : null,
      ),
      policy.override && policy.override.updated_by
        ? h("p", { class: "muted hint", testid: "policy-updated-by" }, t("policy.updated_by", { user: policy.override.updated_by }))
        : null,
    );
  }

  api
    .get(path)
    .then(draw)
    .catch((err) => replace(body, errorBox(err, { testid: "policy-error" })));
  return panel;
}
