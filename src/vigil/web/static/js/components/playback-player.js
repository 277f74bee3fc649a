// Recorded playback over /api/v1/channels/{id}/playback into one <video> through MSE.
// The server sends an init segment and GOP fragments (binary) paced a little ahead of the
// playhead, and JSON messages: "position" before each fragment (its wall time and where it sits
// on the media timeline), "gap", "seek", "speed", "paused", "playing", "end", "error". Gaps in
// the recording are skipped by the server (the media timeline stays continuous, the wall clock
// jumps), so the wall time of the playhead comes from the position messages: wallTime().
// Commands go back as JSON: pause, resume, speed (1/2/4/8; above 2× the server sends keyframes
// only, each lasting its GOP, and the element plays at the same rate), seek.

import { MseBuffer } from "./mse-buffer.js";
import { boxType, codecFromInit } from "./mse-player.js";

const KEEP_BEHIND_S = 10;
const MAX_POSITIONS = 600;
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4404, 4503]);

export class PlaybackPlayer {
  /**
   * url(startIso, speed): the WebSocket address. onState(state, detail): "connecting" |
   * "playing" | "paused" | "ended" | "failed" | "closed". onGap({from, to}) when a gap is skipped.
   */
  constructor(video, { url, start, speed = 1, onState = () => {}, onGap = () => {} }) {
    this.video = video;
    this.url = url;
    this.onState = onState;
    this.onGap = onGap;
    this.speed = speed;
    this.positions = []; // {media, wall (ms), duration}
    this.closed = false;
    this.ended = false;
    this.paused = false;
    this.pendingSeek = null; // media time to jump to once buffered
    this.state = "";
    this.codec = null;
    const fail = (message) => this.setState("failed", message);
    this.media = new MseBuffer(video, {
      onUpdateEnd: () => this.afterUpdate(),
      onQuota: () => this.trim(1),
      onOpenError: fail,
      onAppendError: fail,
    });
    this.open(start);
  }

  open(start) {
    this.resetMedia();
    this.positions = [];
    this.ended = false;
    this.setState("connecting");
    const ws = new WebSocket(this.url(start, this.speed));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      if (typeof event.data === "string") this.onText(event.data);
      else this.onBinary(new Uint8Array(event.data));
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      if (FINAL_CLOSE_CODES.has(event.code) || event.code === 1011) this.setState("failed", event.reason || `close ${event.code}`);
      else if (!this.ended) this.setState("failed", event.reason || `close ${event.code}`);
    });
  }

  setState(state, detail = "") {
    this.state = state;
    this.onState(state, detail);
  }

  send(command) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(command));
  }

  pause() {
    this.paused = true;
    this.video.pause();
    this.send({ op: "pause" });
  }

  resume() {
    this.paused = false;
    this.send({ op: "resume" });
    if (this.hasBufferAhead()) this.video.play().catch(() => {});
  }

  setSpeed(speed) {
    this.speed = speed;
    this.send({ op: "speed", value: speed });
  }

  /** Jumps to a wall instant (Date or ISO text). */
  seek(at) {
    const iso = at instanceof Date ? at.toISOString() : String(at);
    this.ended = false;
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      this.open(iso);
      return;
    }
    this.send({ op: "seek", at: iso });
  }

  onText(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case "position":
        this.positions.push({ media: message.media_s, wall: Date.parse(message.at), duration: message.duration_s });
        if (this.positions.length > MAX_POSITIONS) this.positions.splice(0, this.positions.length - MAX_POSITIONS);
        break;
      case "gap":
        this.onGap({ from: message.from, to: message.to });
        break;
      case "seek":
        this.pendingSeek = message.media_s;
        this.positions = this.positions.filter((p) => p.media < message.media_s);
        this.afterUpdate();
        break;
      case "speed":
        this.video.playbackRate = message.value;
        break;
      case "paused":
        this.video.pause();
        this.setState("paused");
        break;
      case "playing":
        if (this.hasBufferAhead()) this.video.play().catch(() => {});
        this.setState("playing");
        break;
      case "end":
        this.ended = true;
        this.endMedia = message.media_s;
        break;
      default:
        break;
    }
  }

  onBinary(bytes) {
    const type = boxType(bytes);
    if (type === "ftyp") {
      const codec = codecFromInit(bytes);
      const mime = codec ? `video/mp4; codecs="${codec}"` : null;
      if (!mime || !window.MediaSource || !MediaSource.isTypeSupported(mime)) {
        this.setState("failed", `unsupported ${codec || "codec"}`);
        return;
      }
      if (!this.media.opened) {
        this.media.open(mime);
        this.video.playbackRate = this.speed;
      } else if (codec !== this.codec && this.media.sourceBuffer && typeof this.media.sourceBuffer.changeType === "function") {
        this.media.changeType(mime);
      }
      this.codec = codec;
    }
    this.media.append(bytes);
  }

  afterUpdate() {
    const video = this.video;
    const buffered = video.buffered;
    if (buffered.length) {
      if (this.pendingSeek !== null) {
        for (let i = 0; i < buffered.length; i += 1) {
          if (buffered.start(i) <= this.pendingSeek + 0.05 && buffered.end(i) > this.pendingSeek) {
            video.currentTime = Math.max(this.pendingSeek, buffered.start(i));
            this.pendingSeek = null;
            break;
          }
        }
      } else if (video.currentTime < buffered.start(0)) {
        video.currentTime = buffered.start(0);
      }
      if (!this.paused && video.paused && this.hasBufferAhead()) {
        video.playbackRate = this.speed;
        video.play().catch(() => {});
        if (this.state !== "playing") this.setState("playing");
      }
    }
    if (!this.trim(KEEP_BEHIND_S)) this.media.pump();
  }

  hasBufferAhead() {
    const buffered = this.video.buffered;
    return buffered.length > 0 && buffered.end(buffered.length - 1) > this.video.currentTime + 0.05;
  }

  /** Removes buffer further than keepS behind the playhead; true when a removal started. */
  trim(keepS) {
    if (this.pendingSeek !== null) return false;
    return this.media.removeBehind(keepS, 2);
  }

  /** Wall time (ms since the epoch) of the frame at the playhead, or null before the first. */
  wallTime() {
    const t = this.video.currentTime;
    let found = null;
    for (const p of this.positions) {
      if (p.media <= t + 0.001) found = p;
      else break;
    }
    if (!found) return null;
    return found.wall + Math.min(t - found.media, found.duration) * 1000;
  }

  /** True once the server said "end" and the playhead reached it. */
  atEnd() {
    return this.ended && this.endMedia !== undefined && this.video.currentTime >= this.endMedia - 0.1;
  }

  resetMedia() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
    this.media.reset();
    this.pendingSeek = null;
    this.codec = null;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.resetMedia();
    this.setState("closed");
  }
}
