// Display formats shared by the pages: times, enumerations, counts.

import { t, has } from "./i18n.js";

export const POINT_CLASSES = [1, 2, 3];
export const NETWORKS = ["police_video", "social_video", "internet", "wireless"];
export const PTZ_TYPES = [1, 2, 3, 4, 5, 6, 7]; // GB/T 28181 catalog PTZType

const pad = (n) => String(n).padStart(2, "0");

/** "2024-05-01 08:30:12" in the browser's time zone; "" for empty input. */
export function dateTime(value) {
  if (!value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

function labelOr(key, raw) {
  return has(key) ? t(key) : String(raw ?? "");
}

export const classLabel = (c) => (c === null || c === undefined || c === "" ? "" : labelOr(`class.${c}`, c));
export const networkLabel = (n) => (n ? labelOr(`network.${n}`, n) : "");
export const roleLabel = (r) => (r ? labelOr(`role.${r}`, r) : "");
export const permissionLabel = (p) => labelOr(`perm.${p}`, p);
export const outcomeLabel = (o) => (o ? labelOr(`outcome.${o}`, o) : "");
export const ptzLabel = (p) => (p === null || p === undefined || p === "" ? "" : labelOr(`ptz.${p}`, p));
export const yesNo = (value) => (value === null || value === undefined ? "" : t(value ? "common.yes" : "common.no"));
export const onlineLabel = (online) => t(online ? "online.true" : "online.false");

export const DEVICE_STATUSES = ["active", "pending", "disabled"];
export const deviceStatusLabel = (s) => (s ? labelOr(`device.status.${s}`, s) : "");
export const transportLabel = (tr) => (tr ? String(tr).toUpperCase() : "");

/** "12 s ago", "3 min ago", "2 h ago", "4 d ago" (or "in …" for the future); "" for empty input. */
export function relativeTime(value, now = Date.now()) {
  if (!value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const seconds = Math.round((now - d.getTime()) / 1000);
  const ahead = seconds < 0;
  const s = Math.abs(seconds);
  let text;
  if (s < 5) return t("time.just_now");
  if (s < 60) text = t("time.seconds", { n: s });
  else if (s < 3600) text = t("time.minutes", { n: Math.floor(s / 60) });
  else if (s < 86400) text = t("time.hours", { n: Math.floor(s / 3600) });
  else text = t("time.days", { n: Math.floor(s / 86400) });
  return t(ahead ? "time.in" : "time.ago", { text });
}

/** "08:30:12.345" in the browser's time zone (log lines); "" for empty input. */
export function timeOfDay(value) {
  if (!value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}
