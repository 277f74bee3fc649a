// The "Downloads" panel of the device recordings page: copies of device recordings made on the
// platform as MP4 files (POST /channels/{id}/device-downloads), the caller's jobs with their
// state and progress (polled while any is queued or running, not otherwise), the reason of a
// failed one, "Save" for a finished one (fetched with the bearer token, handed over as a file)
// and removal (a finished one only after confirming, since its file goes with it).

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { currentUser } from "../user.js";
import { dateTime } from "../format.js";
import { errorBox } from "./error-box.js";
import { openDialog } from "./dialog.js";
import { toast } from "./toast.js";

const POLL_MS = 1500;
const LIST_LIMIT = 50;
const SPEEDS = [1, 2, 4, 8];
const DEFAULT_SPEED = 4;
const ACTIVE = new Set(["queued", "running"]);

function sizeText(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.ceil(bytes / 1e3)} kB`;
}

/** "2024-05-01 08:30:00 – 09:30:00" (the end's date only when it differs). */
function rangeText(job) {
  const from = dateTime(job.start);
  const to = dateTime(job.end);
  return `${from} – ${from.slice(0, 10) === to.slice(0, 10) ? to.slice(11) : to}`;
}

/**
 * nameOf(channelId): the point's name when the page knows it, else null.
 * Returns {element, request(channelId, startS, endS), start(), stop()}; request() resolves to
 * the new job, or null when the request failed (the panel then shows why).
 */
export function deviceDownloads({ nameOf = () => null } = {}) {
  let timer = null;
  let stopped = false;
  let generation = 0;
  let known = new Map(); // job id → state, to tell when a job has just ended

  const alerts = h("div", { class: "alerts", testid: "device-downloads-alerts" });
  const speedSelect = h(
    "select",
    { class: "input input-small", id: "devdl-speed", testid: "device-download-speed", value: String(DEFAULT_SPEED) },
    SPEEDS.map((s) => h("option", { value: String(s) }, `${s}×`)),
  );
  const tbody = h("tbody", { testid: "device-download-rows" });
  const element = h(
    "section",
    { class: "panel device-downloads", testid: "device-downloads", "aria-labelledby": "devdl-title" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "devdl-title", class: "panel-title" }, t("devdl.title")),
      h("span", { class: "muted small" }, t("devdl.about")),
      h("span", { class: "spacer" }),
      h("label", { for: "devdl-speed", class: "small" }, t("devdl.speed")),
      speedSelect,
    ),
    alerts,
    h(
      "div",
      { class: "table-wrap device-downloads-list" },
      h(
        "table",
        { class: "grid", testid: "device-download-table" },
        h("caption", { class: "visually-hidden" }, t("devdl.title")),
        h("thead", {}, h("tr", {}, ["devdl.point", "devdl.range", "devdl.state", "devdl.size", "common.actions"].map((k) => h("th", { scope: "col" }, t(k))))),
        tbody,
      ),
    ),
  );

  const label = (job) => nameOf(job.channel_id) || job.channel_id;

  function stateCell(job) {
    if (job.state === "done") return h("span", { class: "badge badge-online" }, t("devdl.state.done"));
    if (job.state === "failed") {
      return h(
        "span",
        {},
        h("span", { class: "badge badge-bad" }, t("devdl.state.failed")),
        job.error ? h("div", { class: "field-error small", testid: "device-download-error" }, job.error) : null,
      );
    }
    const percent = Math.floor((job.progress || 0) * 100);
    return h(
      "span",
      { class: "device-download-progress" },
      t(`devdl.state.${job.state}`),
      " ",
      h("progress", { max: "100", value: String(percent), testid: "device-download-progress", "aria-label": t("devdl.progress") }),
      h("span", { class: "mono", testid: "device-download-percent" }, ` ${percent}%`),
    );
  }

  function row(job) {
    const me = currentUser();
    const running = job.state === "running";
    return h(
      "tr",
      { testid: "device-download-row", dataset: { id: job.id, state: job.state, progress: String(job.progress || 0), channel: job.channel_id } },
      h(
        "td",
        {},
        h("span", { title: job.channel_id }, label(job)),
        me && job.requested_by !== me.username ? h("div", { class: "muted small" }, t("devdl.by", { user: job.requested_by })) : null,
      ),
      h("td", { class: "nowrap mono" }, rangeText(job), h("span", { class: "muted small" }, ` ${job.speed}×`)),
      h("td", { testid: "device-download-state" }, stateCell(job)),
      h("td", { class: "num" }, job.state === "done" ? sizeText(job.size_bytes) : ""),
      h(
        "td",
        { class: "actions" },
        job.state === "done" ? h("button", { type: "button", class: "btn btn-small", testid: "device-download-save", onclick: (e) => save(job, e.currentTarget) }, t("devdl.save")) : null,
        h(
          "button",
          { type: "button", class: "btn btn-small btn-ghost", testid: "device-download-remove", disabled: running, title: running ? t("devdl.remove_running") : null, onclick: () => remove(job) },
          t("devdl.remove"),
        ),
      ),
    );
  }

  function announce(items) {
    const next = new Map(items.map((j) => [j.id, j.state]));
    for (const job of items) {
      if (!ACTIVE.has(known.get(job.id)) || ACTIVE.has(job.state)) continue;
      if (job.state === "done") toast(t("devdl.finished", { name: label(job) }));
      else if (job.state === "failed") toast(t("devdl.failed_toast", { name: label(job) }), "error");
    }
    known = next;
  }

  async function load() {
    clearTimeout(timer);
    timer = null;
    generation += 1;
    const mine = generation;
    let active = [...known.values()].some((s) => ACTIVE.has(s));
    try {
      const answer = await api.get("/device-downloads", { limit: LIST_LIMIT });
      if (stopped || mine !== generation) return;
      const items = (answer && answer.items) || [];
      announce(items);
      replace(tbody, items.length ? items.map(row) : h("tr", { class: "empty" }, h("td", { colspan: "5", class: "muted", testid: "device-downloads-none" }, t("devdl.none"))));
      active = items.some((j) => ACTIVE.has(j.state));
    } catch (err) {
      if (stopped || mine !== generation) return;
      replace(alerts, errorBox(err, { testid: "device-downloads-error" }));
    }
    if (active && !stopped) timer = setTimeout(load, POLL_MS);
  }

  async function request(channelId, startS, endS) {
    replace(alerts);
    try {
      const job = await api.post(`/channels/${encodeURIComponent(channelId)}/device-downloads`, { start: startS, end: endS, speed: Number(speedSelect.value) });
      known.set(job.id, job.state);
      toast(t("devdl.queued", { name: nameOf(channelId) || channelId }));
      await load();
      return job;
    } catch (err) {
      replace(alerts, errorBox(err, { testid: "device-downloads-error" }));
      return null;
    }
  }

  async function save(job, button) {
    replace(alerts);
    button.disabled = true;
    try {
      await api.download(`/device-downloads/${encodeURIComponent(job.id)}/file`, {}, `${job.channel_id}-${job.start_s}-${job.end_s}.mp4`);
    } catch (err) {
      replace(alerts, errorBox(err, { testid: "device-downloads-error" }));
      if (err && err.status === 410) load(); // the file went away: show the list as it is now
    } finally {
      button.disabled = false;
    }
  }

  async function removeNow(job) {
    await api.del(`/device-downloads/${encodeURIComponent(job.id)}`);
    known.delete(job.id);
    await load();
  }

  function remove(job) {
    replace(alerts);
    if (job.state !== "done") {
      removeNow(job).catch((err) => replace(alerts, errorBox(err, { testid: "device-downloads-error" })));
      return;
    }
    const problem = h("div", {});
    openDialog({
      title: t("devdl.remove_title"),
      body: [h("p", {}, t("devdl.remove_body", { name: label(job), range: rangeText(job) })), problem],
      submitLabel: t("devdl.remove"),
      testid: "device-download-remove-dialog",
      danger: true,
      onSubmit: async () => {
        try {
          await removeNow(job);
        } catch (err) {
          replace(problem, errorBox(err));
          throw err;
        }
      },
    });
  }

  return {
    element,
    request,
    start: () => {
      stopped = false;
      load();
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      timer = null;
    },
  };
}
