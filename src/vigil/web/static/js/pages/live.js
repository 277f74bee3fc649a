// Live view: region tree and point list on the left, a 1/4/9/16 grid of players on the right.
// Clicking a point plays it in the selected cell; #/live?channel=<id> starts with that point.

import { api, getToken, request, ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { onChannelStatus } from "../live.js";
import { onlineBadge } from "../components/badges.js";
import { errorBox } from "../components/error-box.js";
import { pointSidebar } from "../components/point-sidebar.js";
import { MsePlayer } from "../components/mse-player.js";
import { gridSizeControl, resizeGrid } from "../components/player-grid.js";
import { ptzPanel } from "../components/ptz-panel.js";

const GRID_SIZES = [1, 4, 9, 16];
const GRID_KEY = "vigil.live.grid";

function liveUrl(channelId) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const id = encodeURIComponent(channelId);
  return `${scheme}//${location.host}/api/v1/channels/${id}/live?token=${encodeURIComponent(getToken() || "")}`;
}

export function render(root, _params, query) {
  if (!can("live.view")) {
    root.append(h("section", { class: "content page" }, h("p", { class: "muted", testid: "live-forbidden" }, t("page.forbidden"))));
    return () => {};
  }

  const stored = Number(localStorage.getItem(GRID_KEY));
  let gridSize = GRID_SIZES.includes(stored) ? stored : 4;
  let selected = 0;
  const cells = []; // {element, video, title, message, stats, player, channel, showStats}
  // PTZ controls steer the cell last played or clicked (selection moves on after a play)
  const ptz = ptzPanel();
  let ptzCell = null;
  const steer = (cell) => {
    ptzCell = cell && cell.channel ? cell : null;
    ptz.setChannel(ptzCell ? ptzCell.channel : null);
  };

  // ---- sidebar: region tree above, points below
  const sidebar = pointSidebar({ listTestid: "live-points", pointItem });
  const pointList = sidebar.pointList;

  // ---- grid
  const grid = h("div", { class: "live-grid", testid: "live-grid" });
  const sizes = gridSizeControl(GRID_SIZES, "live-grid", (n) => setGrid(n));
  const content = h(
    "section",
    { class: "content live-content", "aria-labelledby": "live-title" },
    h(
      "div",
      { class: "toolbar" },
      h("h1", { id: "live-title", class: "page-title" }, t("livepage.title")),
      h("span", { class: "spacer" }),
      sizes.elements,
    ),
    grid,
    ptz.element,
  );
  root.append(h("div", { class: "split" }, sidebar.element, content));

  // ---- cells
  function makeCell(index) {
    const video = h("video", { muted: true, autoplay: true, playsinline: true, testid: "live-video" });
    video.muted = true;
    const title = h("span", { class: "live-name", testid: "live-cell-name" });
    const message = h("div", { class: "live-message", testid: "live-message", "aria-live": "polite" });
    const stats = h("div", { class: "live-stats mono", testid: "live-stats", hidden: true });
    const cell = { index, video, title, message, stats, player: null, channel: null, showStats: false, statsTimer: null };
    const button = (testid, label, onclick) =>
      h("button", { type: "button", class: "btn btn-small btn-ghost", testid, title: label, "aria-label": label, onclick }, label);
    const tools = h(
      "div",
      { class: "live-tools" },
      button("live-stats-toggle", t("livepage.stats"), () => toggleStats(cell)),
      button("live-snapshot", t("livepage.snapshot"), () => snapshot(cell)),
      button("live-fullscreen", t("livepage.fullscreen"), () => cell.element.requestFullscreen?.()),
      button("live-close", t("livepage.close"), () => stop(cell)),
    );
    cell.element = h(
      "div",
      {
        class: "live-cell",
        testid: "live-cell",
        dataset: { index: String(index) },
        tabindex: "0",
        onclick: () => {
          select(index);
          steer(cell);
        },
      },
      video,
      h("div", { class: "live-bar" }, title, h("span", { class: "spacer" }), tools),
      stats,
      message,
    );
    showEmpty(cell);
    return cell;
  }

  function showEmpty(cell) {
    replace(cell.title, t("livepage.empty_cell"));
    replace(cell.message);
    cell.element.dataset.state = "empty";
    delete cell.element.dataset.channel;
  }

  function setGrid(n) {
    gridSize = n;
    localStorage.setItem(GRID_KEY, String(n));
    resizeGrid(grid, cells, n, makeCell, stop);
    sizes.press(n);
    select(Math.min(selected, n - 1));
  }

  function select(index) {
    selected = index;
    cells.forEach((c) => {
      c.element.classList.toggle("selected", c.index === index);
      c.element.setAttribute("aria-current", c.index === index ? "true" : "false");
    });
  }

  function play(channel) {
    const cell = cells[selected];
    stop(cell);
    cell.channel = channel;
    cell.element.dataset.channel = channel.id;
    replace(cell.title, channel.name || channel.id);
    cell.title.title = channel.id;
    steer(cell);
    cell.player = new MsePlayer(cell.video, {
      url: () => liveUrl(channel.id),
      onState: (state, detail) => onPlayerState(cell, state, detail),
    });
    if (cell.showStats) startStats(cell);
    // the next click fills the next cell
    if (gridSize > 1) select((selected + 1) % gridSize);
  }

  function onPlayerState(cell, state, detail) {
    if (state === "closed") return;
    // while retrying after a failure, keep the verdict on screen
    if (state === "connecting" && cell.element.dataset.state === "failed") return;
    cell.element.dataset.state = state;
    if (state === "playing") replace(cell.message);
    else if (state === "connecting") replace(cell.message, t("livepage.connecting"));
    else if (state === "retrying") replace(cell.message, t("livepage.retrying"));
    else if (state === "failed") showVerdict(cell, detail);
  }

  async function showVerdict(cell, detail) {
    const channel = cell.channel;
    if (!channel) return;
    replace(cell.message, h("strong", {}, t("livepage.failed")), detail ? h("span", { class: "muted" }, ` (${detail})`) : null);
    try {
      const answer = await api.get(`/channels/${encodeURIComponent(channel.id)}/play-sessions`);
      if (cell.channel !== channel || cell.element.dataset.state !== "failed") return;
      // {items: [session]} or a single {verdict, timeline}
      const session = answer && Array.isArray(answer.items) ? answer.items[answer.items.length - 1] : answer;
      const verdict = session && session.verdict;
      const last = session && Array.isArray(session.timeline) ? session.timeline.slice(-3) : [];
      if (!verdict && !last.length) return;
      replace(
        cell.message,
        h("strong", {}, t("livepage.failed")),
        verdict ? h("div", { testid: "live-verdict" }, verdict) : null,
        last.length
          ? h(
              "ul",
              { class: "live-timeline" },
              last.map((e) => h("li", {}, h("span", { class: "mono muted" }, e.kind || ""), " ", e.message || e.detail || "")),
            )
          : null,
      );
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) console.warn(err);
    }
  }

  function stop(cell) {
    if (!cell) return;
    if (cell === ptzCell) steer(null);
    if (cell.player) cell.player.close();
    cell.player = null;
    cell.channel = null;
    stopStats(cell);
    showEmpty(cell);
  }

  function toggleStats(cell) {
    cell.showStats = !cell.showStats;
    cell.stats.hidden = !cell.showStats;
    if (cell.showStats) startStats(cell);
    else stopStats(cell);
  }

  function startStats(cell) {
    stopStats(cell);
    const draw = () => {
      if (!cell.player) {
        replace(cell.stats);
        return;
      }
      const s = cell.player.stats();
      replace(
        cell.stats,
        h("div", {}, t("livepage.bitrate", { kbps: Math.round((s.bytesPerSecond * 8) / 1000) })),
        h("div", {}, t("livepage.fps", { fps: s.framesPerSecond.toFixed(1) })),
        h("div", {}, t("livepage.latency", { ms: s.latency === null ? "–" : Math.round(s.latency * 1000) })),
        h("div", {}, t("livepage.dropped", { dropped: s.dropped ?? "–", total: s.total ?? "–" })),
      );
    };
    draw();
    cell.statsTimer = setInterval(draw, 1000);
    cell.stats.hidden = false;
  }

  function stopStats(cell) {
    clearInterval(cell.statsTimer);
    cell.statsTimer = null;
  }

  async function snapshot(cell) {
    if (!cell.channel) return;
    const tab = window.open("", "_blank");
    try {
      const response = await request("GET", `/channels/${encodeURIComponent(cell.channel.id)}/snapshot.jpg`);
      const url = URL.createObjectURL(await response.blob());
      if (tab) tab.location.href = url;
      else window.open(url, "_blank");
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      if (tab) tab.close();
      replace(cell.message, errorBox(err));
    }
  }

  // ---- points
  function pointItem(c) {
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: "live-point",
          testid: "live-point",
          dataset: { id: c.id, online: String(Boolean(c.online)) },
          title: c.id,
          onclick: () => play(c),
        },
        h("span", { class: "live-point-name" }, c.name || c.id),
        h("span", { dataset: { statusCell: "" } }, onlineBadge(c.online)),
      ),
    );
  }

  sidebar.start();

  const unsubscribe = onChannelStatus(({ id, online }) => {
    const button = pointList.querySelector(`[data-id="${CSS.escape(String(id))}"]`);
    if (!button) return;
    button.dataset.online = String(Boolean(online));
    replace(button.querySelector("[data-status-cell]"), onlineBadge(online));
  });

  setGrid(gridSize);
  if (query.channel) {
    api
      .get(`/channels/${encodeURIComponent(query.channel)}`)
      .catch(() => ({ id: query.channel }))
      .then((channel) => play(channel));
  }

  return () => {
    unsubscribe();
    ptz.close();
    cells.forEach((c) => {
      stopStats(c);
      if (c.player) c.player.close();
    });
  };
}
