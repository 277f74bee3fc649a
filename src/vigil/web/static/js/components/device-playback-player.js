// A recording kept on a device, over /api/v1/channels/{id}/device-playback, into one <video>
// through MSE. The server sends an init segment and one fragment per frame (binary) on a media
// timeline that runs at 1/speed of the recording (GB/T 28181 Scale: the device sends faster, the
// server rewrites the times), so the element always plays at rate 1 and its buffer stays small.
// Commands go back as text, {action: pause | resume | scale | seek, value}, each answered with
// {ok, state, scale, error}. The socket closes with 1000 at the end of the recording, 4xxx when
// the playback was refused (the reason says why), 1011 when it failed on the way.
// The recording time at the playhead is estimated from the window's start, the seeks and the
// speeds: positionS().

import { MseBuffer } from "./mse-buffer.js";
import { boxType, codecFromInit } from "./mse-player.js";

const CUSHION_S = 0.15; // buffered ahead of the playhead before playing
const KEEP_BEHIND_S = 10;

export class DevicePlaybackPlayer {
  /**
   * url(speed): the WebSocket address. startS/endS: the window (Unix seconds).
   * onState(state, detail, code): "connecting" | "playing" | "paused" | "ended" | "failed" | "closed".
   * onAnswer(command, answer): each command's answer ({ok, error, ...}).
   */
  constructor(video, { url, startS, endS, speed = 1, onState = () => {}, onAnswer = () => {} }) {
    this.video = video;
    this.startS = startS;
    this.endS = endS;
    this.speed = speed;
    this.onState = onState;
    this.onAnswer = onAnswer;
    this.state = "";
    this.paused = false;
    this.closed = false;
    this.codec = null;
    this.pending = []; // commands sent, answers still to come (they come in order)
    this.anchor = { media: null, recordS: startS, speed }; // playhead → recording time
    this.media = new MseBuffer(video, {
      onUpdateEnd: () => this.afterUpdate(),
      onQuota: () => this.media.removeBehind(1, 0.1),
      onOpenError: (message) => this.fail(message),
      onAppendError: (message) => this.fail(message),
    });
    this.setState("connecting");
    const ws = new WebSocket(url(speed));
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
      if (event.code === 1000) this.setState("ended", event.reason);
      else this.setState("failed", event.reason || `close ${event.code}`, event.code);
    });
  }

  setState(state, detail = "", code = 0) {
    this.state = state;
    this.onState(state, detail, code);
  }

  fail(message) {
    this.setState("failed", message || "");
    this.closeSocket();
  }

  send(command) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.pending.push(command);
    this.ws.send(JSON.stringify(command));
    return true;
  }

  pause() {
    if (!this.send({ action: "pause" })) return;
    this.paused = true;
    this.video.pause();
  }

  resume() {
    if (!this.send({ action: "resume" })) return;
    this.paused = false;
    if (this.bufferedAhead() > 0) this.video.play().catch(() => {});
  }

  setSpeed(speed) {
    this.send({ action: "scale", value: speed });
  }

  /** Jumps to offsetS seconds after the window's start. */
  seek(offsetS) {
    this.send({ action: "seek", value: Math.max(0, Math.floor(offsetS)) });
  }

  onText(text) {
    let answer;
    try {
      answer = JSON.parse(text);
    } catch {
      return;
    }
    const command = this.pending.shift() || {};
    if (answer.ok) {
      // what follows the frames already here is at the new speed or position
      const pivot = this.bufferedEnd();
      if (command.action === "scale") {
        this.anchor = { media: pivot, recordS: this.positionAt(pivot), speed: command.value };
        this.speed = command.value;
      } else if (command.action === "seek") {
        this.anchor = { media: pivot, recordS: this.startS + command.value, speed: this.speed };
      }
      if (answer.state === "paused") this.setState("paused");
      else if (answer.state === "playing" && this.state !== "ended") this.setState("playing");
    }
    this.onAnswer(command, answer);
  }

  onBinary(bytes) {
    const type = boxType(bytes);
    if (type === "ftyp") {
      const codec = codecFromInit(bytes);
      const mime = codec ? `video/mp4; codecs="${codec}"` : null;
      if (!mime || !window.MediaSource || !MediaSource.isTypeSupported(mime)) {
        this.fail(`unsupported ${codec || "codec"}`);
        return;
      }
      if (!this.media.opened) this.media.open(mime);
      else if (codec !== this.codec) this.media.changeType(mime);
      this.codec = codec;
    }
    if (this.codec) this.media.append(bytes);
  }

  afterUpdate() {
    const video = this.video;
    const buffered = video.buffered;
    if (buffered.length) {
      if (this.anchor.media === null) this.anchor.media = buffered.start(0);
      if (video.currentTime < buffered.start(0)) video.currentTime = buffered.start(0);
      if (!this.paused && video.paused && this.bufferedAhead() >= CUSHION_S) {
        video.play().catch(() => {});
        if (this.state === "connecting" || this.state === "paused") this.setState("playing");
      }
    }
    if (!this.media.removeBehind(KEEP_BEHIND_S, 2)) this.media.pump();
  }

  bufferedEnd() {
    const buffered = this.video.buffered;
    return buffered.length ? buffered.end(buffered.length - 1) : this.video.currentTime;
  }

  bufferedAhead() {
    return Math.max(0, this.bufferedEnd() - this.video.currentTime);
  }

  positionAt(mediaS) {
    const { media, recordS, speed } = this.anchor;
    if (media === null) return recordS;
    return Math.min(this.endS, recordS + Math.max(0, mediaS - media) * speed);
  }

  /** Recording time at the playhead (Unix seconds, estimated), or null before the first frame. */
  positionS() {
    return this.anchor.media === null ? null : this.positionAt(this.video.currentTime);
  }

  closeSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.closeSocket();
    this.media.reset();
    this.setState("closed");
  }
}
