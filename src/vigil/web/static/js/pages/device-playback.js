// Recordings kept on devices (GB/T 28181 RecordInfo and Playback): pick a point, a time range,
// ask its device what it recorded (GET /channels/{id}/device-records), see the list and a bar of
// it, and play an item over /channels/{id}/device-playback with pause, speed 1/2/4/8 and seek.
// "Download" copies an item (its part within the queried range) into an MP4 on the platform
// (components/device-downloads.js, which lists the caller's downloads below).
// #/playback/device?channel=<id>&from=<unix s>&to=<unix s> opens with that query.

import { api, getToken } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { replaceQuery } from "../router.js";
import { onlineBadge } from "../components/badges.js";
import { errorBox } from "../components/error-box.js";
import { pointSidebar } from "../components/point-sidebar.js";
import { playbackModes } from "../components/playback-modes.js";
import { recordBar } from "../components/record-bar.js";
import { DevicePlaybackPlayer } from "../components/device-playback-player.js";
import { deviceDownloads } from "../components/device-downloads.js";

const SPEEDS = [1, 2, 4, 8];
const TICK_MS = 500;
const pad = (n) => String(n).padStart(2, "0");

function localInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function clockText(seconds) {
  const d = new Date(seconds * 1000);
  return `${localInput(seconds * 1000).replace("T", " ")}:${pad(d.getSeconds())}`;
}

const sameDay = (aS, bS) => new Date(aS * 1000).toDateString() === new Date(bS * 1000).toDateString();

function durationText(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

function playbackUrl(channelId, startS, endS, speed) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ start: String(startS), end: String(endS), speed: String(speed), token: getToken() || "" });
  return `${scheme}//${location.host}/api/v1/channels/${encodeURIComponent(channelId)}/device-playback?${query}`;
}

/** Plain words for the way a playback socket closed. */
function endedText(state, detail, code) {
  if (state === "ended") return t("devpb.ended");
  if (code === 4401) return t("devpb.signed_out");
  if (code === 4403) return t("devpb.forbidden");
  if (code === 4503 && /not online/.test(detail)) return t("devpb.offline");
  if (code >= 4400 && code < 4600) return t("devpb.refused", { reason: detail || code });
  return t("devpb.failed", { reason: detail || code });
}

export function render(root, _params, query) {
  if (!can("playback.view")) {
    root.append(h("section", { class: "content page" }, h("p", { class: "muted", testid: "playback-forbidden" }, t("page.forbidden"))));
    return () => {};
  }
  const now = Date.now();
  const dayStart = new Date(new Date(now).setHours(0, 0, 0, 0)).getTime();
  let channel = null;
  let items = [];
  let queried = null; // [from s, to s] of the list shown
  const names = new Map(); // channel ID → name, for the downloads panel
  let playing = null; // {item, player, startS, endS}
  let generation = 0;
  let speed = 1;

  // ---- query form, list and bar
  const fromInput = h("input", { type: "datetime-local", class: "input", id: "devpb-from", testid: "device-records-from", value: localInput(Number(query.from) * 1000 || dayStart) });
  const toInput = h("input", { type: "datetime-local", class: "input", id: "devpb-to", testid: "device-records-to", value: localInput(Number(query.to) * 1000 || now + 60e3) });
  const typeSelect = h(
    "select",
    { class: "input", id: "devpb-type", testid: "device-records-type", value: "all" },
    ["all", "time", "alarm", "manual"].map((k) => h("option", { value: k }, t(`devpb.type.${k}`))),
  );
  const queryButton = h("button", { type: "submit", class: "btn btn-primary", testid: "device-records-query", disabled: true }, t("devpb.query"));
  const form = h(
    "form",
    { class: "filters", onsubmit: (e) => { e.preventDefault(); queryRecords(); } },
    h("div", { class: "field" }, h("label", { for: "devpb-from" }, t("devpb.from")), fromInput),
    h("div", { class: "field" }, h("label", { for: "devpb-to" }, t("devpb.to")), toInput),
    h("div", { class: "field" }, h("label", { for: "devpb-type" }, t("devpb.type")), typeSelect),
    h("div", { class: "field field-end" }, queryButton),
  );
  const status = h("div", { class: "status-line", testid: "device-records-status", "aria-live": "polite" }, t("devpb.pick_point"));
  const bar = recordBar({ onPick: (ms) => playAt(ms) });
  const tbody = h("tbody", {});
  const table = h(
    "div",
    { class: "table-wrap device-records-list" },
    h(
      "table",
      { class: "grid", testid: "device-records-table" },
      h("caption", { class: "visually-hidden" }, t("devpb.list")),
      h("thead", {}, h("tr", {}, ["devpb.start", "devpb.end", "devpb.length", "devpb.type", "devpb.name", ""].map((k) => h("th", { scope: "col" }, k ? t(k) : "")))),
      tbody,
    ),
  );

  // ---- player
  const video = h("video", { muted: true, playsinline: true, testid: "device-playback-video" });
  video.muted = true;
  const message = h("div", { class: "live-message", testid: "device-playback-message", "aria-live": "polite" }, t("devpb.pick_item"));
  const cell = h("div", { class: "live-cell device-playback-cell", testid: "device-playback-cell", dataset: { state: "empty" } }, video, message);
  const toggle = h("button", { type: "button", class: "btn btn-small", testid: "device-playback-toggle", disabled: true, onclick: () => togglePause() }, t("playback.pause"));
  const speedButtons = SPEEDS.map((s) =>
    h("button", { type: "button", class: "btn btn-small", testid: `device-playback-speed-${s}`, "aria-pressed": String(s === speed), disabled: true, onclick: () => playing && playing.player.setSpeed(s) }, `${s}×`),
  );
  const seekInput = h("input", { type: "range", class: "device-playback-seek", id: "devpb-seek", testid: "device-playback-seek", min: "0", max: "0", step: "1", value: "0", disabled: true });
  seekInput.addEventListener("change", () => playing && playing.player.seek(Number(seekInput.value)));
  const position = h("span", { class: "mono playback-clock", testid: "device-playback-position" }, "--:--:--");
  const closeButton = h("button", { type: "button", class: "btn btn-small btn-ghost", testid: "device-playback-close", disabled: true, onclick: () => stopPlaying() }, t("livepage.close"));
  const controls = h(
    "div",
    { class: "toolbar device-playback-controls" },
    toggle,
    h("div", { class: "btn-group", role: "group", "aria-label": t("playback.speed") }, speedButtons),
    h("label", { for: "devpb-seek", class: "visually-hidden" }, t("devpb.seek")),
    seekInput,
    position,
    closeButton,
  );

  const downloads = deviceDownloads({ nameOf: (id) => names.get(id) || null });
  const sidebar = pointSidebar({ listTestid: "device-playback-points", pointItem });
  const content = h(
    "section",
    { class: "content page device-playback", "aria-labelledby": "devpb-title" },
    h("div", { class: "toolbar" }, h("h1", { id: "devpb-title", class: "page-title" }, t("devpb.title")), playbackModes("device"), h("span", { class: "spacer" })),
    form,
    status,
    bar.element,
    h("div", { class: "device-playback-body" }, table, h("div", { class: "device-playback-view" }, cell, controls)),
    downloads.element,
  );
  root.append(h("div", { class: "split" }, sidebar.element, content));

  function pointItem(c) {
    const attached = Boolean(c.device_id);
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "live-point", testid: "device-playback-point", dataset: { id: c.id, online: String(Boolean(c.online)) }, title: attached ? c.id : t("devpb.no_device"), disabled: !attached, onclick: () => pick(c) },
        h("span", { class: "live-point-name" }, c.name || c.id),
        onlineBadge(c.online),
      ),
    );
  }

  function pick(c) {
    channel = c;
    if (c.name) names.set(c.id, c.name);
    queryButton.disabled = false;
    sidebar.pointList.querySelectorAll("[data-testid=device-playback-point]").forEach((b) => b.classList.toggle("selected", b.dataset.id === c.id));
    queryRecords();
  }

  function rangeS() {
    const from = Date.parse(fromInput.value);
    const to = Date.parse(toInput.value);
    return Number.isNaN(from) || Number.isNaN(to) ? null : [Math.floor(from / 1000), Math.floor(to / 1000)];
  }

  async function queryRecords() {
    if (!channel) return;
    const range = rangeS();
    if (!range || range[1] <= range[0]) {
      replace(status, h("span", { class: "field-error" }, t("devpb.bad_range")));
      return;
    }
    generation += 1;
    const mine = generation;
    replaceQuery({ channel: channel.id, from: range[0], to: range[1] });
    replace(status, t("devpb.asking", { name: channel.name || channel.id }));
    replace(tbody);
    items = [];
    queried = range;
    bar.show(range[0] * 1000, range[1] * 1000, items);
    try {
      const answer = await api.get(`/channels/${encodeURIComponent(channel.id)}/device-records`, { start: range[0], end: range[1], type: typeSelect.value });
      if (mine !== generation) return;
      items = ((answer && answer.items) || []).filter((i) => i.start_s !== null && i.end_s !== null && i.end_s > i.start_s);
      bar.show(range[0] * 1000, range[1] * 1000, items);
      replace(tbody, items.length ? items.map(row) : h("tr", {}, h("td", { colspan: "6", class: "muted" }, t("devpb.none"))));
      replace(
        status,
        t("devpb.found", { n: items.length, name: channel.name || channel.id }),
        answer && answer.complete === false ? h("span", { class: "badge badge-warn", testid: "device-records-incomplete" }, t("devpb.incomplete")) : null,
      );
    } catch (err) {
      if (mine === generation) replace(status, errorBox(err, { testid: "device-records-error" }));
    }
  }

  /** What a download of the item covers: the item within the queried range. */
  function downloadRange(item) {
    return queried ? [Math.max(item.start_s, queried[0]), Math.min(item.end_s, queried[1])] : [item.start_s, item.end_s];
  }

  async function download(item, button) {
    const [startS, endS] = downloadRange(item);
    if (endS <= startS) return;
    button.disabled = true;
    try {
      await downloads.request(channel.id, startS, endS);
    } finally {
      button.disabled = false;
    }
  }

  function row(item) {
    const [dlStart, dlEnd] = downloadRange(item);
    return h(
      "tr",
      { testid: "device-record-row", dataset: { start: String(item.start_s), end: String(item.end_s) } },
      h("td", { class: "nowrap mono" }, clockText(item.start_s)),
      h("td", { class: "nowrap mono" }, sameDay(item.start_s, item.end_s) ? clockText(item.end_s).slice(11) : clockText(item.end_s)),
      h("td", { class: "mono" }, durationText(item.end_s - item.start_s)),
      h("td", {}, item.type || ""),
      h("td", { class: "detail-cell", title: item.file_path || "" }, item.name || item.file_path || ""),
      h(
        "td",
        { class: "nowrap" },
        h("button", { type: "button", class: "btn btn-small", testid: "device-record-play", onclick: () => play(item, item.start_s) }, t("playback.play")),
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-ghost",
            testid: "device-record-download",
            dataset: { action: "device-download", start: String(dlStart), end: String(dlEnd) },
            title: t("devpb.download_hint", { from: clockText(dlStart), to: sameDay(dlStart, dlEnd) ? clockText(dlEnd).slice(11) : clockText(dlEnd) }),
            hidden: !can("playback.view"),
            onclick: (e) => download(item, e.currentTarget),
          },
          t("devpb.download"),
        ),
      ),
    );
  }

  function playAt(ms) {
    const s = Math.floor(ms / 1000);
    const item = items.find((i) => i.start_s <= s && s < i.end_s);
    if (!item) return;
    if (playing && playing.item === item && playing.player.state !== "ended" && playing.player.state !== "failed") {
      playing.player.seek(s - playing.startS);
      return;
    }
    play(item, s);
  }

  function play(item, startS) {
    stopPlaying();
    speed = 1;
    const channelId = channel.id;
    const endS = item.end_s;
    const player = new DevicePlaybackPlayer(video, {
      url: (sp) => playbackUrl(channelId, startS, endS, sp),
      startS,
      endS,
      speed,
      onState: (s, detail, code) => onState(s, detail, code),
      onAnswer: (command, answer) => onAnswer(command, answer),
    });
    playing = { item, player, startS, endS };
    cell.dataset.channel = channelId;
    cell.dataset.start = String(startS);
    seekInput.max = String(Math.max(0, endS - startS - 1));
    seekInput.value = "0";
    [toggle, seekInput, closeButton, ...speedButtons].forEach((b) => (b.disabled = false));
    pressSpeed(1);
    bar.mark(item, items);
  }

  function onState(s, detail, code) {
    if (s === "closed") return;
    cell.dataset.state = s;
    replace(toggle, t(s === "paused" ? "playback.play" : "playback.pause"));
    if (s === "connecting") replace(message, t("livepage.connecting"));
    else if (s === "playing" || s === "paused") replace(message);
    else {
      replace(message, h("strong", {}, endedText(s, detail, code)));
      [toggle, seekInput, ...speedButtons].forEach((b) => (b.disabled = true));
    }
  }

  function onAnswer(command, answer) {
    if (!answer.ok) {
      replace(message, h("strong", { testid: "device-playback-refused" }, t("devpb.command_refused", { reason: answer.error || "" })));
      setTimeout(() => playing && playing.player.state === "playing" && replace(message), 4000);
      return;
    }
    if (command.action === "scale") pressSpeed(command.value);
  }

  function pressSpeed(value) {
    speed = value;
    cell.dataset.speed = String(value);
    speedButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(SPEEDS[i] === value)));
  }

  function togglePause() {
    if (!playing) return;
    if (playing.player.state === "paused") playing.player.resume();
    else playing.player.pause();
  }

  function stopPlaying() {
    if (playing) playing.player.close();
    playing = null;
    cell.dataset.state = "empty";
    replace(message, t("devpb.pick_item"));
    replace(position, "--:--:--");
    [toggle, seekInput, closeButton, ...speedButtons].forEach((b) => (b.disabled = true));
    bar.mark(null, items);
    bar.setCursor(null);
  }

  function tick() {
    const at = playing && playing.player.positionS();
    if (at === null || at === undefined) return;
    replace(position, clockText(Math.floor(at)));
    position.dataset.positionS = at.toFixed(2);
    if (document.activeElement !== seekInput) seekInput.value = String(Math.floor(at - playing.startS));
    bar.setCursor(at * 1000);
  }
  const timer = setInterval(tick, TICK_MS);

  sidebar.start();
  downloads.start();
  if (query.channel) {
    api.get(`/channels/${encodeURIComponent(query.channel)}`).then(pick, (err) => replace(status, errorBox(err)));
  }

  return () => {
    clearInterval(timer);
    downloads.stop();
    if (playing) playing.player.close();
  };
}
