// Recorded playback: region tree and points on the left; a day picker, the timeline bar of the
// selected cell's channel, transport controls and a grid of up to four players on the right.
// All players share one controller: the same start instant and speed, every command goes to
// all of them, and a player running ahead of the others (it skipped a gap they are still
// playing through) is held until they catch up.
// #/playback?channels=<id>,<id>&at=<ISO>&speed=<n> opens with those points at that instant.

import { api, getToken } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { replaceQuery } from "../router.js";
import { onlineBadge } from "../components/badges.js";
import { errorBox } from "../components/error-box.js";
import { pointSidebar } from "../components/point-sidebar.js";
import { PlaybackPlayer } from "../components/playback-player.js";
import { gridSizeControl, resizeGrid } from "../components/player-grid.js";
import { timelineBar } from "../components/timeline-bar.js";
import { playbackModes } from "../components/playback-modes.js";

const GRID_SIZES = [1, 4];
const SPEEDS = [1, 2, 4, 8];
const SYNC_MS = 500;
const HOLD_AHEAD_MS = 1000; // a player further ahead than this waits for the others
const RELEASE_MS = 250;
const DAY_MS = 24 * 3600 * 1000;

const pad = (n) => String(n).padStart(2, "0");

function dayInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function localDayStart(text) {
  const [y, m, d] = text.split("-").map(Number);
  return new Date(y, m - 1, d).getTime();
}

function clockText(ms) {
  if (ms === null) return "--:--:--";
  const d = new Date(ms);
  return `${dayInput(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function playbackUrl(channelId, start, speed) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ start, speed: String(speed), token: getToken() || "" });
  return `${scheme}//${location.host}/api/v1/channels/${encodeURIComponent(channelId)}/playback?${query}`;
}

export function render(root, _params, query) {
  if (!can("playback.view")) {
    root.append(h("section", { class: "content page" }, h("p", { class: "muted", testid: "playback-forbidden" }, t("page.forbidden"))));
    return () => {};
  }

  const initialAt = query.at && !Number.isNaN(Date.parse(query.at)) ? new Date(query.at) : null;
  const state = {
    day: dayInput(initialAt || new Date()),
    speed: SPEEDS.includes(Number(query.speed)) ? Number(query.speed) : 1,
    paused: false,
    at: initialAt ? initialAt.getTime() : null, // the shared instant last asked for
    clock: null,
  };
  let gridSize = 1;
  let selected = 0;
  let fill = 0; // the cell the next point goes to
  let timelineFor = null;
  const cells = []; // {index, element, video, title, message, channel, player, held}

  // ---- sidebar
  const sidebar = pointSidebar({ listTestid: "playback-points", pointItem });

  // ---- controls
  const dateInput = h("input", { type: "date", class: "input", testid: "playback-date", value: state.day, "aria-label": t("playback.date") });
  dateInput.addEventListener("change", () => {
    if (!dateInput.value) return;
    state.day = dateInput.value;
    loadTimeline(true);
  });
  const toggle = h("button", { type: "button", class: "btn btn-small", testid: "playback-toggle", onclick: () => togglePause() }, t("playback.pause"));
  const speedButtons = SPEEDS.map((s) =>
    h("button", { type: "button", class: "btn btn-small", testid: `playback-speed-${s}`, "aria-pressed": String(s === state.speed), onclick: () => setSpeed(s) }, `${s}×`),
  );
  const clock = h("span", { class: "mono playback-clock", testid: "playback-clock", "aria-live": "off" }, clockText(null));
  const sizes = gridSizeControl(GRID_SIZES, "playback-grid", (n) => setGrid(n));
  const timeline = timelineBar({ onSeek: (date) => seekAll(date.getTime()) });
  const timelineStatus = h("div", { class: "status-line", testid: "timeline-status" });
  const grid = h("div", { class: "live-grid playback-grid", testid: "playback-grid" });
  const content = h(
    "section",
    { class: "content live-content", "aria-labelledby": "playback-title" },
    h(
      "div",
      { class: "toolbar" },
      h("h1", { id: "playback-title", class: "page-title" }, t("playback.title")),
      playbackModes("platform"),
      dateInput,
      toggle,
      h("div", { class: "btn-group", role: "group", "aria-label": t("playback.speed") }, speedButtons),
      clock,
      h("span", { class: "spacer" }),
      sizes.elements,
    ),
    timeline.element,
    timelineStatus,
    grid,
  );
  root.append(h("div", { class: "split" }, sidebar.element, content));

  // ---- cells
  function makeCell(index) {
    const video = h("video", { muted: true, playsinline: true, testid: "playback-video" });
    video.muted = true;
    const title = h("span", { class: "live-name", testid: "playback-cell-name" });
    const message = h("div", { class: "live-message", testid: "playback-message", "aria-live": "polite" });
    const wall = h("span", { class: "mono muted", testid: "playback-cell-clock" });
    const cell = { index, video, title, message, wall, channel: null, player: null, held: false };
    cell.element = h(
      "div",
      { class: "live-cell", testid: "playback-cell", dataset: { index: String(index), state: "empty" }, tabindex: "0", onclick: () => select(index) },
      video,
      h(
        "div",
        { class: "live-bar" },
        title,
        h("span", { class: "spacer" }),
        wall,
        h("button", { type: "button", class: "btn btn-small btn-ghost", testid: "playback-close", onclick: (e) => { e.stopPropagation(); stop(cell); } }, t("livepage.close")),
      ),
      message,
    );
    replace(title, t("livepage.empty_cell"));
    return cell;
  }

  function setGrid(n) {
    gridSize = n;
    resizeGrid(grid, cells, n, makeCell, stop);
    sizes.press(n);
    select(Math.min(selected, n - 1));
  }

  function select(index) {
    selected = index;
    fill = index;
    cells.forEach((c) => c.element.classList.toggle("selected", c.index === index));
    loadTimeline(false);
  }

  function startAt() {
    if (state.clock !== null) return state.clock;
    if (state.at !== null) return state.at;
    return localDayStart(state.day);
  }

  function assign(channel) {
    const cell = cells[Math.min(fill, cells.length - 1)];
    stop(cell);
    cell.channel = channel;
    cell.element.dataset.channel = channel.id;
    replace(cell.title, channel.name || channel.id);
    cell.title.title = channel.id;
    open(cell, startAt());
    select(cell.index);
    if (gridSize > 1) fill = (cell.index + 1) % gridSize;
    rememberQuery();
  }

  function open(cell, atMs) {
    if (cell.player) cell.player.close();
    cell.held = false;
    const channelId = cell.channel.id;
    cell.player = new PlaybackPlayer(cell.video, {
      url: (start, speed) => playbackUrl(channelId, start, speed),
      start: new Date(atMs).toISOString(),
      speed: state.speed,
      onState: (s, detail) => onPlayerState(cell, s, detail),
      onGap: () => replace(cell.message, t("playback.gap_skipped")),
    });
    if (state.paused) cell.player.pause();
  }

  function onPlayerState(cell, s, detail) {
    if (s === "closed") return;
    cell.element.dataset.state = s;
    if (s === "playing") replace(cell.message);
    else if (s === "connecting") replace(cell.message, t("livepage.connecting"));
    else if (s === "failed") replace(cell.message, h("strong", {}, t("playback.failed")), detail ? ` (${detail})` : "");
  }

  function stop(cell) {
    if (!cell) return;
    if (cell.player) cell.player.close();
    cell.player = null;
    cell.channel = null;
    cell.held = false;
    cell.element.dataset.state = "empty";
    delete cell.element.dataset.channel;
    replace(cell.title, t("livepage.empty_cell"));
    replace(cell.message);
    replace(cell.wall);
  }

  const active = () => cells.filter((c) => c.player);

  function seekAll(ms) {
    state.at = ms;
    state.clock = ms;
    const day = dayInput(new Date(ms));
    if (day !== state.day) {
      state.day = day;
      dateInput.value = day;
      loadTimeline(false);
    }
    active().forEach((c) => {
      c.held = false;
      replace(c.message);
      c.player.seek(new Date(ms));
      if (!state.paused) c.player.resume();
    });
    timeline.setCursor(ms);
    rememberQuery();
  }

  function togglePause() {
    state.paused = !state.paused;
    replace(toggle, t(state.paused ? "playback.play" : "playback.pause"));
    toggle.dataset.paused = String(state.paused);
    active().forEach((c) => (state.paused ? c.player.pause() : c.player.resume()));
  }

  function setSpeed(speed) {
    state.speed = speed;
    speedButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(SPEEDS[i] === speed)));
    active().forEach((c) => c.player.setSpeed(speed));
    rememberQuery();
  }

  function rememberQuery() {
    const channels = cells.filter((c) => c.channel).map((c) => c.channel.id).join(",");
    replaceQuery({ channels, at: state.at !== null ? new Date(state.at).toISOString() : "", speed: state.speed });
  }

  // The shared clock is the slowest player; one ahead of it waits (server and element paused).
  function sync() {
    const walls = active()
      .map((c) => ({ c, wall: c.player.wallTime(), done: c.player.atEnd() }))
      .filter((x) => x.wall !== null);
    walls.forEach(({ c, wall }) => replace(c.wall, clockText(wall).slice(11)));
    const running = walls.filter((x) => !x.done);
    if (!running.length) return;
    const slowest = Math.min(...running.map((x) => x.wall));
    state.clock = slowest;
    replace(clock, clockText(slowest));
    clock.dataset.wall = new Date(slowest).toISOString();
    timeline.setCursor(slowest);
    if (state.paused || running.length < 2) return;
    running.forEach(({ c, wall }) => {
      if (!c.held && wall - slowest > HOLD_AHEAD_MS) {
        c.held = true;
        c.player.pause();
      } else if (c.held && wall - slowest <= RELEASE_MS) {
        c.held = false;
        c.player.resume();
      }
    });
    // a held player whose companions all ended is released
    cells.filter((c) => c.held && running.every((x) => x.c === c || x.c.held)).forEach((c) => {
      c.held = false;
      c.player.resume();
    });
    cells.forEach((c) => (c.element.dataset.held = String(c.held)));
  }
  const syncTimer = setInterval(sync, SYNC_MS);

  // ---- timeline of the selected cell's channel
  async function loadTimeline(reopen) {
    const cell = cells[selected];
    const channel = cell && cell.channel;
    const dayStart = localDayStart(state.day);
    if (reopen) {
      state.at = dayStart;
      state.clock = null;
      seekAll(dayStart);
    }
    if (!channel) {
      timeline.setDay(dayStart, null);
      replace(timelineStatus, t("playback.pick_point"));
      return;
    }
    const key = `${channel.id}@${state.day}`;
    timelineFor = key;
    replace(timelineStatus, t("common.loading"));
    try {
      const answer = await api.get(`/channels/${encodeURIComponent(channel.id)}/recordings`, {
        start: new Date(dayStart).toISOString(),
        end: new Date(dayStart + DAY_MS).toISOString(),
      });
      if (timelineFor !== key) return;
      timeline.setDay(dayStart, answer);
      const segments = (answer && answer.segments) || [];
      replace(timelineStatus, segments.length ? t("playback.segments", { n: segments.length, name: channel.name || channel.id }) : t("playback.no_recordings"));
    } catch (err) {
      if (timelineFor === key) replace(timelineStatus, errorBox(err));
    }
  }

  // ---- points
  function pointItem(c) {
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "live-point", testid: "playback-point", dataset: { id: c.id }, title: c.id, onclick: () => assign(c) },
        h("span", { class: "live-point-name" }, c.name || c.id),
        onlineBadge(c.online),
      ),
    );
  }

  sidebar.start();

  const wanted = (query.channels || "").split(",").filter(Boolean).slice(0, 4);
  setGrid(wanted.length > 1 ? 4 : 1);
  (async () => {
    for (const id of wanted) {
      const channel = await api.get(`/channels/${encodeURIComponent(id)}`).catch(() => ({ id }));
      assign(channel);
    }
    if (!wanted.length) loadTimeline(false);
  })();

  return () => {
    clearInterval(syncTimer);
    cells.forEach((c) => c.player && c.player.close());
  };
}
