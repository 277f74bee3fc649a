"""Page-side code of ``live_view.py``: run in the live page by Playwright."""

# Before any page script: every WebSocket notes when it opened and when its init segment
# (an ftyp box) and first fragment (a moof box) arrived, on the page's clock.
INSTRUMENT = """(() => {
  const Native = window.WebSocket;
  const log = [];
  window.__vigilSockets = log;
  function Instrumented(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    const entry = { url: String(url), open: null, init: null, fragment: null };
    log.push(entry);
    ws.addEventListener("open", () => { entry.open = performance.now(); });
    ws.addEventListener("message", (event) => {
      if (!(event.data instanceof ArrayBuffer) || event.data.byteLength < 8) return;
      const type = String.fromCharCode(...new Uint8Array(event.data, 4, 4));
      if (type === "ftyp" && entry.init === null) entry.init = performance.now();
      if (type === "moof" && entry.fragment === null) entry.fragment = performance.now();
    });
    return ws;
  }
  Instrumented.prototype = Native.prototype;
  Object.assign(Instrumented, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Instrumented;
})();"""

# Click a point of the live page; time everything from the click to the first presented frame.
FIRST_FRAME = """async ({ channelId, timeoutMs }) => {
  const point = document.querySelector(`[data-testid=live-point][data-id="${channelId}"]`);
  const video = document.querySelector("[data-testid=live-cell] video");
  if (!point || !video) return { error: "no point or no cell" };
  const before = window.__vigilSockets.length;
  const clicked = performance.now();
  point.click();
  const shown = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    video.requestVideoFrameCallback((now, meta) => {
      clearTimeout(timer);
      resolve(meta.expectedDisplayTime);
    });
  });
  const socket = window.__vigilSockets.slice(before).find((s) => s.url.includes("/live")) || {};
  const since = (t) => (t === null || t === undefined ? null : t - clicked);
  return {
    error: shown === null ? "no frame before the timeout" : null,
    frame_ms: since(shown),
    open_ms: since(socket.open),
    init_ms: since(socket.init),
    fragment_ms: since(socket.fragment),
  };
}"""

# Another viewer of the channel (a bare WebSocket, no player), so its play stays open.
HOLD_VIEWER = """({ channelId }) => {
  const token = sessionStorage.getItem("vigil.token");
  const url = `ws://${location.host}/api/v1/channels/${encodeURIComponent(channelId)}/live` +
    `?token=${encodeURIComponent(token)}`;
  window.__vigilHeld = 0;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", () => { window.__vigilHeld += 1; });
  window.__vigilHolder = ws;
}"""

# On each presented frame: the mean level of every stamp block (read back from a canvas),
# the expected display time on the wall clock, and how much is buffered ahead of playback.
WATCH_STAMPS = """async ({ frames, timeoutMs, blocks, blockPx }) => {
  const video = document.querySelector("[data-testid=live-cell] video");
  const xs = blocks.map((b) => b[0]);
  const ys = blocks.map((b) => b[1]);
  const left = Math.min(...xs), top = Math.min(...ys);
  const width = Math.max(...xs) + blockPx - left, height = Math.max(...ys) + blockPx - top;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const inner = blockPx / 4; // the middle of a block: away from edges the encoder blurs
  const out = [];
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(out), timeoutMs);
    const onFrame = (now, meta) => {
      ctx.drawImage(video, left, top, width, height, 0, 0, width, height);
      const pixels = ctx.getImageData(0, 0, width, height).data;
      const levels = blocks.map(([x, y]) => {
        let sum = 0, count = 0;
        for (let row = y - top + inner; row < y - top + blockPx - inner; row += 2) {
          for (let col = x - left + inner; col < x - left + blockPx - inner; col += 2) {
            sum += pixels[(row * width + col) * 4];
            count += 1;
          }
        }
        return sum / count;
      });
      const buffered = video.buffered;
      const ahead = buffered.length ? buffered.end(buffered.length - 1) - video.currentTime : 0;
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      out.push({ levels, shown, ahead_s: ahead });
      if (out.length >= frames) {
        clearTimeout(timer);
        resolve(out);
      } else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
}"""
