// A device's recording list over the queried range as a bar: one block per item, the playing
// item marked, the playhead, the range's ends and a few ticks. A click (or Enter) asks to play
// from that instant.

import { h, replace } from "../dom.js";
import { t } from "../i18n.js";

const pad = (n) => String(n).padStart(2, "0");
const TICKS = 6;

function clock(ms, withDate) {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withDate ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}

/** onPick(ms) when the bar is clicked. Returns {element, show(startMs, endMs, items), mark(item), setCursor(ms)}. */
export function recordBar({ onPick }) {
  let range = [0, 1];
  let cursor = null;
  const track = h("div", { class: "timeline-track" });
  const playhead = h("div", { class: "timeline-cursor", testid: "device-records-cursor", hidden: true });
  const bar = h(
    "div",
    { class: "timeline-bar", testid: "device-records-bar", role: "slider", tabindex: "0", "aria-label": t("devpb.bar") },
    track,
    playhead,
  );
  const ticks = h("div", { class: "timeline-ticks", "aria-hidden": "true" });
  const element = h("div", { class: "timeline" }, bar, ticks);
  const toX = (ms) => ((ms - range[0]) / (range[1] - range[0])) * 100;

  bar.addEventListener("click", (event) => {
    const rect = bar.getBoundingClientRect();
    const fraction = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1);
    onPick(Math.round(range[0] + fraction * (range[1] - range[0])));
  });
  bar.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || cursor === null) return;
    onPick(cursor);
    event.preventDefault();
  });

  function drawCursor() {
    const visible = cursor !== null && cursor >= range[0] && cursor <= range[1];
    playhead.hidden = !visible;
    if (visible) playhead.style.left = `${toX(cursor)}%`;
  }

  return {
    element,
    show(startMs, endMs, items) {
      range = [startMs, Math.max(endMs, startMs + 1)];
      const blocks = items.map((item) => {
        const a = Math.max(item.start_s * 1000, range[0]);
        const b = Math.min(item.end_s * 1000, range[1]);
        if (b <= a) return null;
        const block = h("div", {
          class: "timeline-span",
          testid: "device-records-span",
          style: `left:${toX(a)}%;width:max(1px, ${toX(b) - toX(a)}%)`,
          title: `${clock(a, false)} – ${clock(b, false)}`,
        });
        item.block = block;
        return block;
      });
      replace(track, blocks);
      const withDate = range[1] - range[0] > 24 * 3600e3;
      const marks = [];
      for (let i = 0; i <= TICKS; i += 1) {
        const ms = range[0] + ((range[1] - range[0]) * i) / TICKS;
        const style = i === 0 ? "left:0;transform:none" : i === TICKS ? "left:100%;transform:translateX(-100%)" : `left:${toX(ms)}%`;
        marks.push(h("span", { class: "timeline-tick", style }, clock(ms, withDate)));
      }
      replace(ticks, marks);
      drawCursor();
    },
    mark(playing, items) {
      items.forEach((item) => item.block && item.block.classList.toggle("device-record-playing", item === playing));
    },
    setCursor(ms) {
      cursor = ms;
      drawCursor();
    },
  };
}
