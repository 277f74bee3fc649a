// Live status buses and the server's event stream. Whoever learns that a channel or device went
// on- or offline publishes it here, and views showing it update in place. After sign-in one
// EventSource on /api/v1/events feeds the buses; it reconnects with back-off and closes on
// sign-out.

import { api, getToken } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { onUserChange } from "./user.js";
import { toast } from "./components/toast.js";

const EVENTS_URL = "/api/v1/events";
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
const TOAST_WINDOW_MS = 5000; // at most one notice per window
const TOAST_GATHER_MS = 1500; // changes arriving together make one notice

const channelListeners = new Set();
const deviceListeners = new Set();
const catalogListeners = new Set();
const streamListeners = new Set();

/** fn({id, device_id?, online, status_changed_at}) is called for each change; returns an unsubscribe. */
export function onChannelStatus(fn) {
  channelListeners.add(fn);
  return () => channelListeners.delete(fn);
}

export function publishChannelStatus(change) {
  channelListeners.forEach((fn) => fn(change));
}

/**
 * fn({device_id, online, reason, address, transport, at}) per device change. A device going
 * offline takes its channels with it: views also mark that device's channels offline.
 */
export function onDeviceStatus(fn) {
  deviceListeners.add(fn);
  return () => deviceListeners.delete(fn);
}

export function publishDeviceStatus(change) {
  deviceListeners.forEach((fn) => fn(change));
}

/** fn({device_id, added, changed, removed, complete, at}) after a device's catalog was read. */
export function onCatalog(fn) {
  catalogListeners.add(fn);
  return () => catalogListeners.delete(fn);
}

export function publishCatalog(change) {
  catalogListeners.forEach((fn) => fn(change));
}

// ---- the event stream

let source = null;
let retryTimer = null;
let retryMs = RETRY_FIRST_MS;
let failures = 0;
let state = "off"; // off | connecting | open | retrying
let everOpened = false;

export function streamState() {
  return state;
}

/** fn(state) when the stream opens, fails or closes; "open" after a gap means: reload. */
export function onStreamState(fn) {
  streamListeners.add(fn);
  return () => streamListeners.delete(fn);
}

function setState(next, { reopened = false } = {}) {
  state = next;
  document.querySelectorAll("[data-testid=live-status]").forEach((el) => showState(el));
  streamListeners.forEach((fn) => fn(next, { reopened }));
}

/** Shows the stream state on el (the header's indicator). */
export function showState(el) {
  el.dataset.state = state;
  const label = t(`live.state.${state}`);
  el.title = label;
  replace(el, t("live.badge"), h("span", { class: "visually-hidden" }, `: ${label}`));
}

function parse(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

function open() {
  clearTimeout(retryTimer);
  retryTimer = null;
  const token = getToken();
  if (!token || source) return;
  setState("connecting");
  const es = new EventSource(`${EVENTS_URL}?token=${encodeURIComponent(token)}`);
  source = es;
  es.addEventListener("open", () => {
    if (source !== es) return;
    const reopened = everOpened;
    everOpened = true;
    failures = 0;
    retryMs = RETRY_FIRST_MS;
    setState("open", { reopened });
  });
  es.addEventListener("error", () => {
    if (source !== es) return;
    // Handle every failure ourselves (the browser's own retry does not back off).
    es.close();
    source = null;
    failures += 1;
    setState("retrying");
    const delay = retryMs;
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    retryTimer = setTimeout(reconnect, delay + Math.random() * 250);
  });
  es.addEventListener("device", (event) => {
    const data = parse(event);
    if (!data || !data.device_id) return;
    publishDeviceStatus({ ...data, online: Boolean(data.online) });
    noteForToast(data);
  });
  es.addEventListener("channel", (event) => {
    const data = parse(event);
    if (!data || !data.channel_id) return;
    publishChannelStatus({
      id: data.channel_id,
      device_id: data.device_id,
      online: Boolean(data.online),
      reason: data.reason,
      status_changed_at: data.at,
    });
  });
  es.addEventListener("catalog", (event) => {
    const data = parse(event);
    if (data && data.device_id) publishCatalog(data);
  });
}

async function reconnect() {
  retryTimer = null;
  if (!getToken()) return;
  if (failures >= 2) {
    // EventSource hides the status: ask once whether the token still holds (a 401 signs out).
    try {
      await api.get("/auth/me");
    } catch {
      if (!getToken()) return;
    }
  }
  open();
}

function close() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (source) source.close();
  source = null;
  failures = 0;
  retryMs = RETRY_FIRST_MS;
  everOpened = false;
  setState("off");
}

onUserChange((me) => {
  if (me) open();
  else close();
});
window.addEventListener("pagehide", () => {
  if (source) source.close();
  source = null;
});
window.addEventListener("pageshow", (event) => {
  if (event.persisted && state !== "off") open(); // back from the page cache
});

// ---- unobtrusive notices: at most one toast per window, summing up what happened in it

let pending = [];
let toastTimer = null;
let lastToastAt = 0;

function noteForToast(change) {
  pending.push(change);
  if (toastTimer) return;
  const wait = Math.max(TOAST_GATHER_MS, lastToastAt + TOAST_WINDOW_MS - Date.now());
  toastTimer = setTimeout(flushToast, wait);
}

function flushToast() {
  toastTimer = null;
  const changes = pending;
  pending = [];
  if (!changes.length) return;
  lastToastAt = Date.now();
  const latest = new Map(changes.map((c) => [c.device_id, c]));
  if (latest.size === 1) {
    const [c] = latest.values();
    toast(t(c.online ? "live.device_online" : "live.device_offline", { id: c.device_id }), "info", 3000);
    return;
  }
  const up = [...latest.values()].filter((c) => c.online).length;
  const down = latest.size - up;
  let key = "live.devices_changed";
  if (down === 0) key = "live.devices_online";
  else if (up === 0) key = "live.devices_offline";
  toast(t(key, { up, down }), "info", 3000);
}

// Lets scripts and tests drive the buses: window.vigil.publishChannelStatus({id, online}).
window.vigil = Object.assign(window.vigil || {}, {
  publishChannelStatus,
  publishDeviceStatus,
  liveState: streamState,
});
