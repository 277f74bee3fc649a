// The Media Source Extensions side of one <video>, shared by the live and the recorded player:
// a MediaSource with one SourceBuffer in "segments" mode (fragments carry their own
// baseMediaDecodeTime), a queue of appends and codec changes sent one at a time, removal of
// buffer behind the playhead, and tear-down.

export class MseBuffer {
  /**
   * onUpdateEnd(): after each append or removal. onQuota(): the SourceBuffer is full (the
   * append went back to the head of the queue). onOpenError(message): no SourceBuffer for the
   * type. onAppendError(message): an append failed otherwise.
   */
  constructor(video, { onUpdateEnd, onQuota, onOpenError, onAppendError }) {
    this.video = video;
    this.onQuota = onQuota;
    this.onOpenError = onOpenError;
    this.onAppendError = onAppendError;
    this.onUpdateEnd = onUpdateEnd;
    this.mediaSource = null;
    this.objectUrl = null;
    this.sourceBuffer = null;
    this.queue = [];
  }

  /** True once open() made a MediaSource (its SourceBuffer may still be on its way). */
  get opened() {
    return this.mediaSource !== null;
  }

  /** Attaches a new MediaSource to the element; the SourceBuffer for mime follows on sourceopen. */
  open(mime) {
    const ms = new MediaSource();
    this.mediaSource = ms;
    this.objectUrl = URL.createObjectURL(ms);
    ms.addEventListener(
      "sourceopen",
      () => {
        if (this.mediaSource !== ms) return;
        try {
          const sb = ms.addSourceBuffer(mime);
          sb.mode = "segments";
          sb.addEventListener("updateend", this.onUpdateEnd);
          this.sourceBuffer = sb;
        } catch (exc) {
          this.onOpenError(exc && exc.message);
          return;
        }
        this.pump();
      },
      { once: true },
    );
    this.video.src = this.objectUrl;
  }

  /** Queues a codec change (SourceBuffer.changeType) before the appends that follow. */
  changeType(mime) {
    this.queue.push({ changeType: mime });
  }

  append(bytes) {
    this.queue.push(bytes);
    this.pump();
  }

  /** Starts the next queued operation when the SourceBuffer is idle. */
  pump() {
    const sb = this.sourceBuffer;
    if (!sb || sb.updating || !this.queue.length) return;
    if (this.mediaSource.readyState !== "open") return;
    const next = this.queue.shift();
    try {
      if (next.changeType) {
        if (typeof sb.changeType === "function") sb.changeType(next.changeType);
        this.pump();
        return;
      }
      sb.appendBuffer(next);
    } catch (exc) {
      if (exc && exc.name === "QuotaExceededError") {
        this.queue.unshift(next);
        this.onQuota();
        return;
      }
      this.onAppendError(exc && exc.message);
    }
  }

  /**
   * Removes buffer more than keepS behind the playhead when that is at least minS long; true
   * when a removal started (updateend follows).
   */
  removeBehind(keepS, minS) {
    const sb = this.sourceBuffer;
    const buffered = this.video.buffered;
    if (!sb || sb.updating || !buffered.length) return false;
    const start = buffered.start(0);
    const upTo = this.video.currentTime - keepS;
    if (upTo - start < minS) return false;
    try {
      sb.remove(start, upTo);
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the queue, ends the MediaSource and detaches it from the element. */
  reset() {
    this.queue = [];
    if (this.sourceBuffer) this.sourceBuffer.removeEventListener("updateend", this.onUpdateEnd);
    this.sourceBuffer = null;
    const ms = this.mediaSource;
    this.mediaSource = null;
    if (ms && ms.readyState === "open") {
      try {
        ms.endOfStream();
      } catch {
        /* already ending */
      }
    }
    if (this.objectUrl) {
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
      this.video.removeAttribute("src");
      this.video.load();
    }
  }
}
