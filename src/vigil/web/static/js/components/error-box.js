// Renders an ApiError (or any Error) as an alert: translated headline, the server's message,
// and its details as a small table of row / column / field / reason.

import { h } from "../dom.js";
import { t, has } from "../i18n.js";

export function errorHeadline(err) {
  const code = err && err.code;
  if (code && has(`error.code.${code}`)) return t(`error.code.${code}`);
  return t("error.unknown");
}

export function detailsTable(details, rowTestId = "error-detail-row") {
  const hasRow = details.some((d) => d.row !== undefined && d.row !== null);
  const hasColumn = details.some((d) => d.column);
  const hasField = details.some((d) => d.field);
  const head = [
    hasRow && h("th", { scope: "col", class: "num" }, t("error.row")),
    hasColumn && h("th", { scope: "col" }, t("error.column")),
    hasField && h("th", { scope: "col" }, t("error.field")),
    h("th", { scope: "col" }, t("error.reason")),
  ];
  const rows = details.map((d) =>
    h(
      "tr",
      { testid: rowTestId, dataset: { row: d.row ?? "", column: d.column ?? "", field: d.field ?? "" } },
      hasRow && h("td", { class: "num" }, d.row ?? ""),
      hasColumn && h("td", {}, d.column ?? ""),
      hasField && h("td", {}, d.field ?? ""),
      h("td", {}, d.reason ?? d.message ?? ""),
    ),
  );
  return h("table", { class: "grid compact" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows));
}

export function errorBox(err, { testid = "error", showDetails = true } = {}) {
  const message = err && err.message && err.message !== err.code ? err.message : "";
  const details = (err && Array.isArray(err.details) && err.details) || [];
  return h(
    "div",
    { class: "alert alert-error", role: "alert", testid },
    h("strong", {}, errorHeadline(err)),
    message && h("div", { class: "alert-message" }, message),
    showDetails && details.length > 0 && detailsTable(details),
  );
}
