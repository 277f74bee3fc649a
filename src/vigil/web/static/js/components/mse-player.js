// Live fMP4 over a WebSocket into one <video> through Media Source Extensions.
// The server sends an init segment (ftyp+moov) and then one fragment (moof+mdat) per frame; a new
// init segment may follow when the camera changes its parameters. Appends go through a queue, one
// at a time; playback is kept close to the live edge and the buffer behind it is trimmed. When
// the playhead catches up with the live edge, playback holds until a small cushion is buffered
// again (a stall at the very edge would otherwise drop a frame each time). The first play starts
// at the live edge, not at the cached GOP's keyframe, and a playhead that drifts further behind
// than CATCH_UP_S plays slightly fast until it is back: latency stays near the cushion.

import { MseBuffer } from "./mse-buffer.js";

const MAX_LATENCY_S = 1.0; // further behind than this: jump to the live edge
const CUSHION_S = 0.12; // buffer ahead of the playhead before playing (3 frames at 25 fps)
const CATCH_UP_S = 0.3; // further behind than this: play at CATCH_UP_RATE until back at the cushion
const CATCH_UP_RATE = 1.1;
const KEEP_BEHIND_S = 10; // buffer kept behind the playhead
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 15000;
// Close codes after which trying again cannot help: not signed in, not allowed, no such
// channel, channel without a device.
const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4409]);

/** Four-character type of the first box in bytes (the box type sits at bytes 4–8). */
export function boxType(bytes) {
  if (bytes.length < 8) return "";
  return String.fromCharCode(bytes[4], bytes[5], bytes[6], bytes[7]);
}

/** "avc1.PPCCLL" from the avcC box of an init segment, or null when there is none. */
export function codecFromInit(bytes) {
  for (let i = 4; i + 8 <= bytes.length; i += 1) {
    if (bytes[i] === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x63 && bytes[i + 3] === 0x43) {
      // "avcC" then configurationVersion, AVCProfileIndication, profile_compatibility, AVCLevelIndication
      const hex = (n) => n.toString(16).padStart(2, "0");
      return `avc1.${hex(bytes[i + 5])}${hex(bytes[i + 6])}${hex(bytes[i + 7])}`;
    }
  }
  return null;
}

export class MsePlayer {
  /**
   * url(): the WebSocket address (asked again on each connection, so a fresh token is used).
   * onState(state, detail): "connecting" | "playing" | "retrying" | "failed" | "closed".
   */
  constructor(video, { url, onState = () => {} }) {
    this.video = video;
    this.url = url;
    this.onState = onState;
    this.ws = null;
    this.codec = null;
    this.closed = false;
    this.retryMs = RETRY_FIRST_MS;
    this.retryTimer = null;
    this.gotMedia = false; // any fragment on the current connection
    this.counters = { bytes: 0, fragments: 0 };
    this.rates = { bytesPerSecond: 0, framesPerSecond: 0 };
    this.lastSample = { at: performance.now(), bytes: 0, fragments: 0 };
    this.rateTimer = setInterval(() => this.sample(), 1000);
    this.holding = true; // paused until CUSHION_S is buffered ahead
    this.media = new MseBuffer(video, {
      onUpdateEnd: () => this.afterUpdate(),
      onQuota: () => this.trim(true),
      onOpenError: (message) => this.fail(message),
      onAppendError: (message) => {
        this.fail(message);
        this.closeSocket();
      },
    });
    this.onWaiting = () => this.hold();
    this.onPlaying = () => {
      if (this.holding) video.pause(); // autoplay started before the cushion was there
    };
    video.addEventListener("waiting", this.onWaiting);
    video.addEventListener("playing", this.onPlaying);
    this.connect();
  }

  connect() {
    if (this.closed) return;
    this.resetMedia();
    this.gotMedia = false;
    this.onState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (exc) {
      this.fail(exc && exc.message);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws || typeof event.data === "string") return;
      this.receive(new Uint8Array(event.data));
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      if (!this.gotMedia) this.fail(event.reason || `close ${event.code}`);
      else this.onState("retrying");
      if (!FINAL_CLOSE_CODES.has(event.code)) this.scheduleRetry();
    });
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => this.connect(), delay + Math.random() * 250);
  }

  fail(reason) {
    this.onState("failed", reason || "");
  }

  receive(bytes) {
    this.counters.bytes += bytes.byteLength;
    const type = boxType(bytes);
    if (type === "ftyp") {
      this.onInit(bytes);
      return;
    }
    if (type === "moof") {
      this.counters.fragments += 1;
      if (!this.gotMedia) {
        this.gotMedia = true;
        this.retryMs = RETRY_FIRST_MS;
        this.onState("playing");
      }
    }
    if (!this.codec) return; // nothing playable before the first init segment
    this.enqueue(bytes);
  }

  onInit(bytes) {
    const codec = codecFromInit(bytes);
    if (!codec) {
      this.fail("no avcC");
      return;
    }
    const mime = `video/mp4; codecs="${codec}"`;
    if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) {
      this.fail(`unsupported ${codec}`);
      this.closeSocket();
      return;
    }
    if (!this.media.opened) {
      this.codec = codec;
      this.media.open(mime);
    } else if (codec !== this.codec) {
      this.codec = codec;
      this.media.changeType(mime);
    }
    this.enqueue(bytes);
  }

  enqueue(bytes) {
    this.media.append(bytes);
  }

  afterUpdate() {
    const video = this.video;
    const buffered = video.buffered;
    if (buffered.length) {
      const start = buffered.start(0);
      const end = buffered.end(buffered.length - 1);
      const jump = this.holding ? 2 * CUSHION_S : MAX_LATENCY_S;
      if (video.currentTime < start || end - video.currentTime > jump) {
        video.currentTime = Math.max(start, end - CUSHION_S);
      }
      const ahead = end - video.currentTime;
      if (this.holding && ahead >= CUSHION_S) {
        this.holding = false;
        video.play().catch(() => {});
      }
      if (ahead > CATCH_UP_S) video.playbackRate = CATCH_UP_RATE;
      else if (ahead <= CUSHION_S) video.playbackRate = 1;
    }
    if (!this.trim(false)) this.media.pump();
  }

  hold() {
    const buffered = this.video.buffered;
    const ahead = buffered.length ? buffered.end(buffered.length - 1) - this.video.currentTime : 0;
    if (ahead >= CUSHION_S) return;
    this.holding = true;
    this.video.pause();
  }

  /** Removes buffer far behind the playhead; true when a removal started (updateend follows). */
  trim(force) {
    return force ? this.media.removeBehind(1, 0.1) : this.media.removeBehind(KEEP_BEHIND_S, 2);
  }

  sample() {
    const now = performance.now();
    const seconds = (now - this.lastSample.at) / 1000 || 1;
    this.rates = {
      bytesPerSecond: (this.counters.bytes - this.lastSample.bytes) / seconds,
      framesPerSecond: (this.counters.fragments - this.lastSample.fragments) / seconds,
    };
    this.lastSample = { at: now, bytes: this.counters.bytes, fragments: this.counters.fragments };
  }

  /** {bytesPerSecond, framesPerSecond, latency (s), dropped, total, codec}. */
  stats() {
    const video = this.video;
    const buffered = video.buffered;
    const latency = buffered.length ? Math.max(0, buffered.end(buffered.length - 1) - video.currentTime) : null;
    const quality = typeof video.getVideoPlaybackQuality === "function" ? video.getVideoPlaybackQuality() : null;
    return {
      ...this.rates,
      latency,
      dropped: quality ? quality.droppedVideoFrames : null,
      total: quality ? quality.totalVideoFrames : null,
      codec: this.codec,
    };
  }

  closeSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
  }

  resetMedia() {
    this.closeSocket();
    this.media.reset();
    this.codec = null;
    this.holding = true;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.rateTimer);
    this.video.removeEventListener("waiting", this.onWaiting);
    this.video.removeEventListener("playing", this.onPlaying);
    this.resetMedia();
    this.onState("closed");
  }
}
