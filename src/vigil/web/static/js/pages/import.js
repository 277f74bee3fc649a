// Ledger import: upload CSV/XLSX, optionally as a dry run; show the counts, or the row-by-row
// error report when the server refused the file (in which case nothing was applied).

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { errorBox, errorHeadline } from "../components/error-box.js";

const SUMMARY_KEYS = ["rows", "created", "updated", "unchanged", "orgs_created", "devices_created"];

export function render(root) {
  if (!can("ledger.import")) {
    root.append(h("section", { class: "content page" }, h("div", { class: "alert alert-error", role: "alert" }, t("page.forbidden"))));
    return undefined;
  }
  const file = h("input", { id: "import-file", type: "file", class: "input-file", testid: "import-file", accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", required: true });
  const dryRun = h("input", { id: "import-dry-run", type: "checkbox", testid: "import-dry-run" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", testid: "import-submit" }, t("import.submit"));
  const result = h("div", { class: "import-result", "aria-live": "polite" });

  async function onSubmit(event) {
    event.preventDefault();
    const chosen = file.files && file.files[0];
    if (!chosen) {
      replace(result, h("div", { class: "alert alert-error", role: "alert", testid: "import-error" }, t("import.no_file")));
      file.focus();
      return;
    }
    submit.disabled = true;
    const wasDryRun = dryRun.checked;
    replace(result, h("p", { class: "muted", testid: "import-working" }, t("import.working")));
    try {
      const summary = await api.upload("/ledger/import", chosen, { dry_run: wasDryRun ? "true" : "false" });
      replace(result, summaryView(summary, wasDryRun, chosen.name));
    } catch (err) {
      replace(result, failureView(err, chosen.name));
    } finally {
      submit.disabled = false;
    }
  }

  root.append(
    h(
      "section",
      { class: "content page narrow", "aria-labelledby": "import-title" },
      h("div", { class: "toolbar" }, h("h1", { id: "import-title", class: "page-title" }, t("import.title"))),
      h(
        "form",
        { class: "panel form", testid: "import-form", onsubmit: onSubmit, novalidate: true },
        h("p", { class: "muted" }, t("import.help")),
        h("p", { class: "muted small" }, t("import.columns_hint")),
        h("div", { class: "form-row" }, h("label", { for: "import-file" }, t("import.file")), file),
        h(
          "div",
          { class: "form-row form-row-check" },
          h("span"),
          h("span", { class: "check" }, dryRun, h("label", { for: "import-dry-run" }, t("import.dry_run"))),
        ),
        h("div", { class: "form-actions" }, submit),
      ),
      result,
    ),
  );
  return undefined;
}

function summaryView(summary, wasDryRun, fileName) {
  return h(
    "div",
    { class: "panel", testid: "import-report", dataset: { outcome: "ok", dryRun: String(wasDryRun) } },
    h("h2", { class: "panel-title" }, t("import.result"), " · ", h("span", { class: "muted" }, fileName)),
    h(
      "div",
      { class: wasDryRun ? "alert alert-info" : "alert alert-ok", role: "status", testid: "import-outcome" },
      t(wasDryRun ? "import.dry_run_done" : "import.applied"),
    ),
    h(
      "dl",
      { class: "stats", testid: "import-summary" },
      SUMMARY_KEYS.filter((key) => key !== "devices_created" || summary?.[key] !== undefined).map((key) =>
        h("div", { class: "stat" }, h("dt", {}, t(`import.${key}`)), h("dd", { testid: `import-${key}` }, String(summary?.[key] ?? 0))),
      ),
    ),
  );
}

function failureView(err, fileName) {
  const details = Array.isArray(err.details) ? err.details : [];
  if (details.length === 0) {
    return h("div", { class: "panel", testid: "import-report", dataset: { outcome: "error" } }, errorBox(err, { testid: "import-error" }));
  }
  const rows = details.map((d) =>
    h(
      "tr",
      { testid: "import-error-row", dataset: { row: String(d.row ?? ""), column: d.column ?? "" } },
      h("td", { class: "num", testid: "import-error-line" }, d.row ?? ""),
      h("td", { testid: "import-error-column" }, d.column ?? d.field ?? ""),
      h("td", { testid: "import-error-reason" }, d.reason ?? ""),
    ),
  );
  return h(
    "div",
    { class: "panel", testid: "import-report", dataset: { outcome: "error" } },
    h("h2", { class: "panel-title" }, t("import.errors"), " · ", h("span", { class: "muted" }, fileName)),
    h(
      "div",
      { class: "alert alert-error", role: "alert", testid: "import-error" },
      h("strong", {}, errorHeadline(err)),
      " ",
      t("import.error_count", { n: details.length }),
      err.message ? h("div", { class: "alert-message" }, err.message) : null,
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "grid", testid: "import-error-table" },
        h("caption", { class: "visually-hidden" }, t("import.errors")),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col", class: "num" }, t("error.row")),
            h("th", { scope: "col" }, t("error.column")),
            h("th", { scope: "col" }, t("error.reason")),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
  );
}
