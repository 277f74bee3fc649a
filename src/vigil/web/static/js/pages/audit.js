// Audit log: filter by actor and action, page through, verify the hash chain.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../user.js";
import { replaceQuery } from "../router.js";
import { dateTime, outcomeLabel } from "../format.js";
import { errorBox } from "../components/error-box.js";
import { pager, PAGE_SIZES } from "../components/pager.js";

export function render(root, _params, query) {
  if (!can("audit.read")) {
    root.append(h("section", { class: "content page" }, h("div", { class: "alert alert-error", role: "alert" }, t("page.forbidden"))));
    return undefined;
  }
  const limit = Number(query.limit);
  const state = {
    actor: query.actor || "",
    action: query.action || "",
    offset: Math.max(0, Number(query.offset) || 0),
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
  };
  let generation = 0;

  const actor = h("input", { id: "audit-actor", class: "input", testid: "audit-actor", value: state.actor, autocomplete: "off" });
  const action = h("input", { id: "audit-action", class: "input", testid: "audit-action", value: state.action, autocomplete: "off", placeholder: "auth.login" });
  const alerts = h("div", { class: "alerts" });
  const verifyBox = h("div", { class: "verify-result", "aria-live": "polite", testid: "audit-verify-result" });
  const tbody = h("tbody", { testid: "audit-rows" });
  const pagerBox = h("div", { class: "pager-box" });
  const verifyButton = h("button", { type: "button", class: "btn", testid: "audit-verify", onclick: verify }, t("audit.verify"));

  root.append(
    h(
      "section",
      { class: "content page", "aria-labelledby": "audit-title" },
      h("div", { class: "toolbar" }, h("h1", { id: "audit-title", class: "page-title" }, t("audit.title")), h("span", { class: "spacer" }), verifyButton),
      verifyBox,
      h(
        "form",
        {
          class: "filters",
          role: "search",
          testid: "audit-filters",
          onsubmit: (e) => {
            e.preventDefault();
            Object.assign(state, { actor: actor.value.trim(), action: action.value.trim(), offset: 0 });
            load();
          },
        },
        h("div", { class: "field" }, h("label", { for: "audit-actor" }, t("audit.actor")), actor),
        h("div", { class: "field" }, h("label", { for: "audit-action" }, t("audit.action")), action),
        h("div", { class: "field field-end" }, h("button", { type: "submit", class: "btn btn-primary", testid: "audit-apply" }, t("audit.apply"))),
      ),
      alerts,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", testid: "audit-table" },
          h("caption", { class: "visually-hidden" }, t("audit.title")),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", class: "num" }, "#"),
              ["audit.at", "audit.actor", "audit.source_ip", "audit.action", "audit.target", "audit.outcome", "audit.detail"].map((k) =>
                h("th", { scope: "col" }, t(k)),
              ),
            ),
          ),
          tbody,
        ),
      ),
      pagerBox,
    ),
  );

  function row(e) {
    const outcomeClass = { ok: "badge badge-online", failed: "badge badge-bad" }[e.outcome] || "badge badge-warn";
    return h(
      "tr",
      { testid: "audit-row", dataset: { id: String(e.id), action: e.action, outcome: e.outcome } },
      h("td", { class: "num mono" }, e.id),
      h("td", { class: "nowrap" }, dateTime(e.at)),
      h("td", {}, e.actor),
      h("td", { class: "mono" }, e.source_ip || ""),
      h("td", { class: "mono" }, e.action),
      h("td", {}, e.target || ""),
      h("td", {}, h("span", { class: outcomeClass }, outcomeLabel(e.outcome))),
      h("td", { class: "detail-cell mono", title: detailText(e.detail) }, detailText(e.detail)),
    );
  }

  async function load() {
    generation += 1;
    const mine = generation;
    replaceQuery({ actor: state.actor, action: state.action, offset: state.offset || "", limit: state.limit === 50 ? "" : state.limit });
    try {
      const answer = await api.get("/audit", { actor: state.actor, action: state.action, offset: state.offset, limit: state.limit });
      if (mine !== generation) return;
      const items = (answer && answer.items) || [];
      const total = answer.total ?? items.length;
      replace(alerts);
      replace(tbody, items.length ? items.map(row) : h("tr", {}, h("td", { colspan: "8" }, t("common.empty"))));
      replace(
        pagerBox,
        pager({
          offset: state.offset,
          limit: state.limit,
          total,
          onChange: (p) => {
            Object.assign(state, p);
            load();
          },
        }),
      );
    } catch (err) {
      if (mine === generation) replace(alerts, errorBox(err));
    }
  }

  async function verify() {
    verifyButton.disabled = true;
    replace(verifyBox, h("p", { class: "muted" }, t("audit.verifying")));
    try {
      const result = await api.get("/audit/verify");
      const problems = (result && result.problems) || [];
      const checked = result ? result.checked : 0;
      replace(
        verifyBox,
        h(
          "div",
          { class: result && result.ok ? "alert alert-ok" : "alert alert-error", role: "status", dataset: { ok: String(Boolean(result && result.ok)) } },
          h("strong", {}, result && result.ok ? t("audit.verify_ok", { checked }) : t("audit.verify_bad", { checked, n: problems.length })),
          problems.length
            ? h(
                "table",
                { class: "grid compact" },
                h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num" }, "#"), h("th", { scope: "col" }, t("audit.problem_kind")), h("th", { scope: "col" }, t("error.reason")))),
                h("tbody", {}, problems.map((p) => h("tr", { testid: "audit-problem" }, h("td", { class: "num" }, p.id ?? ""), h("td", { class: "mono" }, p.kind || ""), h("td", {}, p.message || "")))),
              )
            : null,
        ),
      );
      load(); // the check itself is audited
    } catch (err) {
      replace(verifyBox, errorBox(err));
    } finally {
      verifyButton.disabled = false;
    }
  }

  load();
  return undefined;
}

function detailText(detail) {
  if (detail === null || detail === undefined) return "";
  if (typeof detail === "string") return detail === "{}" ? "" : detail;
  const text = JSON.stringify(detail);
  return text === "{}" ? "" : text;
}
