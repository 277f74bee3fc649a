// The recordings of one channel over a day as a bar: recorded spans, gaps coloured by cause
// (from GET /channels/{id}/recordings), hour ticks, the playhead. A click (or Enter on the
// focused bar) asks to seek to that instant; arrows move by a minute; the zoom shows 24 h, 1 h
// or 10 min around the playhead.

import { h, replace } from "../dom.js";
import { t, has } from "../i18n.js";

const DAY_MS = 24 * 3600 * 1000;
const ZOOMS = [
  ["24h", DAY_MS],
  ["1h", 3600 * 1000],
  ["10m", 600 * 1000],
];

const pad = (n) => String(n).padStart(2, "0");

function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function causeText(cause) {
  return has(`coverage.cause.${cause}`) ? t(`coverage.cause.${cause}`) : cause || "";
}

export function timelineBar({ onSeek }) {
  let dayStart = 0;
  let viewStart = 0;
  let viewMs = DAY_MS;
  let cursor = null;
  let data = { spans: [], gaps: [] };

  const track = h("div", { class: "timeline-track", testid: "timeline-track" });
  const ticks = h("div", { class: "timeline-ticks", "aria-hidden": "true" });
  const playhead = h("div", { class: "timeline-cursor", testid: "timeline-cursor", hidden: true });
  const bar = h(
    "div",
    {
      class: "timeline-bar",
      testid: "timeline-bar",
      role: "slider",
      tabindex: "0",
      "aria-label": t("playback.timeline"),
      "aria-valuemin": "0",
      "aria-valuemax": "86400",
    },
    track,
    playhead,
  );
  const zoomButtons = ZOOMS.map(([key, ms]) =>
    h(
      "button",
      { type: "button", class: "btn btn-small", testid: `timeline-zoom-${key}`, "aria-pressed": String(ms === viewMs), onclick: () => zoom(ms) },
      t(`playback.zoom_${key}`),
    ),
  );
  const legend = h("div", { class: "timeline-legend muted" });
  const element = h(
    "div",
    { class: "timeline", testid: "timeline" },
    h("div", { class: "timeline-head" }, legend, h("span", { class: "spacer" }), h("div", { class: "btn-group", role: "group", "aria-label": t("playback.zoom") }, zoomButtons)),
    bar,
    ticks,
  );

  const toX = (ms) => ((ms - viewStart) / viewMs) * 100;
  const fromX = (fraction) => viewStart + fraction * viewMs;

  function piece(startMs, endMs, cls, attrs) {
    const a = Math.max(startMs, viewStart);
    const b = Math.min(endMs, viewStart + viewMs);
    if (b <= a) return null;
    return h("div", { class: cls, style: `left:${toX(a)}%;width:max(1px, ${toX(b) - toX(a)}%)`, ...attrs });
  }

  function draw() {
    const spans = data.spans.map((s) => piece(Date.parse(s.start), Date.parse(s.end), "timeline-span", { testid: "timeline-span" }));
    const gaps = data.gaps.map((g) =>
      piece(Date.parse(g.start), Date.parse(g.end), "timeline-gap", {
        testid: "timeline-gap",
        dataset: { cause: g.cause || "unknown", start: g.start, end: g.end },
        title: `${clock(Date.parse(g.start))} – ${clock(Date.parse(g.end))} ${causeText(g.cause)}`,
      }),
    );
    replace(track, spans, gaps);
    const step = viewMs >= DAY_MS ? 3 * 3600e3 : viewMs >= 3600e3 ? 10 * 60e3 : 60e3;
    const marks = [];
    for (let ms = Math.ceil(viewStart / step) * step; ms <= viewStart + viewMs; ms += step) {
      marks.push(h("span", { class: "timeline-tick", style: `left:${toX(ms)}%` }, clock(ms).slice(0, viewMs >= 3600e3 ? 5 : 8)));
    }
    replace(ticks, marks);
    const causes = [...new Set(data.gaps.map((g) => g.cause || "unknown"))];
    replace(
      legend,
      h("span", { class: "timeline-key timeline-key-span" }), t("playback.recorded"), " ",
      causes.map((c) => [h("span", { class: "timeline-key timeline-gap", dataset: { cause: c } }), causeText(c), " "]),
    );
    drawCursor();
  }

  function drawCursor() {
    const visible = cursor !== null && cursor >= viewStart && cursor <= viewStart + viewMs;
    playhead.hidden = !visible;
    if (visible) playhead.style.left = `${toX(cursor)}%`;
    if (cursor !== null) {
      bar.setAttribute("aria-valuenow", String(Math.round((cursor - dayStart) / 1000)));
      bar.setAttribute("aria-valuetext", clock(cursor));
    }
  }

  function zoom(ms) {
    viewMs = ms;
    const centre = cursor ?? dayStart + DAY_MS / 2;
    viewStart = ms >= DAY_MS ? dayStart : Math.min(Math.max(centre - ms / 2, dayStart), dayStart + DAY_MS - ms);
    zoomButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(ZOOMS[i][1] === ms)));
    draw();
  }

  bar.addEventListener("click", (event) => {
    const rect = bar.getBoundingClientRect();
    const fraction = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1);
    onSeek(new Date(Math.round(fromX(fraction))));
  });
  bar.addEventListener("keydown", (event) => {
    const base = cursor ?? dayStart;
    if (event.key === "ArrowRight") onSeek(new Date(base + 60e3));
    else if (event.key === "ArrowLeft") onSeek(new Date(base - 60e3));
    else return;
    event.preventDefault();
  });

  return {
    element,
    /** Shows the day starting at dayStartMs with {spans, gaps} from the timeline API. */
    setDay(dayStartMs, recordings) {
      dayStart = dayStartMs;
      data = { spans: (recordings && recordings.spans) || [], gaps: (recordings && recordings.gaps) || [] };
      zoom(viewMs);
    },
    setCursor(ms) {
      cursor = ms;
      if (viewMs < DAY_MS && ms !== null && (ms < viewStart || ms > viewStart + viewMs)) zoom(viewMs);
      else drawCursor();
    },
  };
}
