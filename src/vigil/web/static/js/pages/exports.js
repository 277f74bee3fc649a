// Exports: request an MP4 of a recorded range (with a signed manifest), follow the jobs'
// progress, download the MP4 and manifest, verify a job. "#/exports?channel=ID" pre-fills.

import { api, getToken } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { dateTime } from "../format.js";
import { errorBox } from "../components/error-box.js";

const REFRESH_MS = 2000;
const pad = (n) => String(n).padStart(2, "0");

/** A Date as the value of an <input type="datetime-local"> (local time, seconds). */
function localInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function sizeText(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.ceil(bytes / 1e3)} kB`;
}

export function render(root, _params, query) {
  const mayCreate = can("export.create");
  if (!mayCreate && !can("audit.read")) {
    root.append(h("section", { class: "content page" }, h("div", { class: "alert alert-error", role: "alert" }, t("page.forbidden"))));
    return undefined;
  }
  let timer = null;
  let stopped = false;
  const alerts = h("div", { class: "alerts" });
  const verdictBox = h("div", { class: "verify-result", "aria-live": "polite", testid: "export-verdict" });
  const tbody = h("tbody", { testid: "export-rows" });
  const now = new Date();
  const channel = h("input", { id: "export-channel", class: "input mono", testid: "export-channel", value: query.channel || "", required: true, maxlength: "20", autocomplete: "off" });
  const start = h("input", { id: "export-start", class: "input", type: "datetime-local", step: "1", testid: "export-start", value: query.start || localInput(new Date(now.getTime() - 3600_000)), required: true });
  const end = h("input", { id: "export-end", class: "input", type: "datetime-local", step: "1", testid: "export-end", value: query.end || localInput(now), required: true });
  const reason = h("input", { id: "export-reason", class: "input", testid: "export-reason", required: true, maxlength: "2000", placeholder: t("exports.reason_hint") });

  const form = mayCreate
    ? h(
        "form",
        { class: "filters", testid: "export-form", onsubmit: submit, "aria-label": t("exports.new") },
        h("div", { class: "field" }, h("label", { for: "export-channel" }, t("exports.channel")), channel),
        h("div", { class: "field" }, h("label", { for: "export-start" }, t("exports.start")), start),
        h("div", { class: "field" }, h("label", { for: "export-end" }, t("exports.end")), end),
        h("div", { class: "field field-wide" }, h("label", { for: "export-reason" }, t("exports.reason")), reason),
        h("div", { class: "field field-end" }, h("button", { type: "submit", class: "btn btn-primary", testid: "export-submit" }, t("exports.submit"))),
      )
    : null;

  root.append(
    h(
      "section",
      { class: "content page", "aria-labelledby": "exports-title", testid: "exports-page" },
      h(
        "div",
        { class: "toolbar" },
        h("h1", { id: "exports-title", class: "page-title" }, t("exports.title")),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "btn btn-small", testid: "export-public-key", onclick: () => api.download("/exports/public-key", {}, "platform-ed25519.pub.pem").catch((err) => replace(alerts, errorBox(err))) }, t("exports.public_key")),
      ),
      h("p", { class: "muted" }, t("exports.about")),
      form,
      alerts,
      verdictBox,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", testid: "export-table" },
          h("caption", { class: "visually-hidden" }, t("exports.title")),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["exports.created", "exports.channel", "exports.range", "exports.requested_by", "exports.state", "exports.size", "common.actions"].map((k) => h("th", { scope: "col" }, t(k))),
            ),
          ),
          tbody,
        ),
      ),
    ),
  );

  function stateCell(job) {
    if (job.state === "done") return h("span", { class: "badge badge-online" }, t("exports.state.done"));
    if (job.state === "expired") return h("span", { class: "badge", title: t("exports.expired_hint") }, t("exports.state.expired"));
    if (job.state === "failed") return h("span", { class: "badge badge-bad", title: job.error || "" }, t("exports.state.failed"), job.error ? h("div", { class: "muted small", testid: "export-error" }, job.error) : null);
    const percent = Math.round((job.progress || 0) * 100);
    return h("span", {}, t(`exports.state.${job.state}`), " ", h("progress", { max: "100", value: String(percent), "aria-label": t("exports.progress") }), ` ${percent}%`);
  }

  function row(job) {
    const done = job.state === "done";
    const signed = done || job.state === "expired"; // the manifest outlives the MP4
    return h(
      "tr",
      { testid: "export-row", dataset: { id: job.id, state: job.state } },
      h("td", { class: "nowrap" }, dateTime(job.created_at)),
      h("td", { class: "mono" }, h("a", { href: `#/points/${encodeURIComponent(job.channel_id)}` }, job.channel_id)),
      h("td", { class: "nowrap" }, `${dateTime(job.start)} – ${dateTime(job.end)}`),
      h("td", {}, job.requested_by),
      h("td", { testid: "export-state" }, stateCell(job)),
      h("td", { class: "num" }, sizeText(job.size_bytes)),
      h(
        "td",
        { class: "actions" },
        done && mayCreate
          ? h("a", { class: "btn btn-small", testid: "export-download", href: `${job.file_url}?token=${encodeURIComponent(getToken() || "")}`, download: `${job.id}.mp4` }, t("exports.download"))
          : null,
        signed ? h("button", { type: "button", class: "btn btn-small", testid: "export-manifest", onclick: () => api.download(`/exports/${job.id}/manifest`, {}, `${job.id}.manifest.json`).catch((err) => replace(alerts, errorBox(err))) }, t("exports.manifest")) : null,
        done ? h("button", { type: "button", class: "btn btn-small", testid: "export-verify", onclick: () => verify(job.id) }, t("exports.verify")) : null,
      ),
    );
  }

  async function load() {
    clearTimeout(timer);
    try {
      const answer = await api.get("/exports", { limit: 100 });
      if (stopped) return;
      const items = (answer && answer.items) || [];
      replace(tbody, items.length ? items.map(row) : h("tr", { class: "empty" }, h("td", { colspan: "7" }, t("common.empty"))));
      if (items.some((j) => j.state === "queued" || j.state === "running")) timer = setTimeout(load, REFRESH_MS);
    } catch (err) {
      if (!stopped) replace(alerts, errorBox(err));
    }
  }

  async function submit(event) {
    event.preventDefault();
    replace(alerts);
    try {
      await api.post(`/channels/${encodeURIComponent(channel.value.trim())}/exports`, {
        start: new Date(start.value).toISOString(),
        end: new Date(end.value).toISOString(),
        reason: reason.value.trim(),
      });
      replace(alerts, h("div", { class: "alert alert-ok", role: "status", testid: "export-queued" }, t("exports.queued")));
      load();
    } catch (err) {
      replace(alerts, errorBox(err, { testid: "export-error-box" }));
    }
  }

  async function verify(jobId) {
    replace(verdictBox, h("p", { class: "muted" }, t("exports.verifying")));
    try {
      const v = await api.post("/exports/verify", { job_id: jobId });
      replace(
        verdictBox,
        h(
          "div",
          { class: v.valid ? "alert alert-ok" : "alert alert-error", role: "status", dataset: { valid: String(v.valid) } },
          h("strong", {}, v.valid ? t("exports.valid") : t("exports.invalid")),
          h("div", { class: "mono small" }, `${jobId} · ${v.key_fingerprint}`),
          (v.problems || []).map((p) => h("div", {}, p)),
        ),
      );
    } catch (err) {
      replace(verdictBox, errorBox(err));
    }
  }

  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
