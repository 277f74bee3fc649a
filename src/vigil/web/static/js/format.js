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
export const onlineLabel = (online) => t(online ? "online.true" : "online.false");
