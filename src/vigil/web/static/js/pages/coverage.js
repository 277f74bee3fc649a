// Recording coverage: one row per collection point, one coloured cell per local day
// (availability %, gaps and their causes on hover), the guarantee KPI, XLSX download.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t, lang, has } from "../i18n.js";
import { replaceQuery } from "../router.js";
import { dateTime } from "../format.js";
import { errorBox } from "../components/error-box.js";
import { pager, PAGE_SIZES } from "../components/pager.js";

const DAY_CHOICES = [1, 7, 14, 30];

export function render(root, _params, query) {
  const limit = Number(query.limit);
  const state = {
    date: query.date || "",
    days: DAY_CHOICES.includes(Number(query.days)) ? Number(query.days) : 7,
    region: query.region || "",
    cls: ["1", "2", "3"].includes(query.class) ? query.class : "",
    offset: Math.max(0, Number(query.offset) || 0),
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
  };
  let generation = 0;

  const dateInput = h("input", { id: "coverage-date", type: "date", class: "input", testid: "coverage-date", value: state.date });
  const daysSelect = h(
    "select",
    { id: "coverage-days", class: "input", testid: "coverage-days", value: String(state.days) },
    DAY_CHOICES.map((n) => h("option", { value: String(n) }, t("coverage.n_days", { n }))),
  );
  const regionInput = h("input", { id: "coverage-region", class: "input", testid: "coverage-region", value: state.region, inputmode: "numeric", maxlength: "8", autocomplete: "off" });
  const classSelect = h(
    "select",
    { id: "coverage-class", class: "input", testid: "coverage-class", value: state.cls },
    h("option", { value: "" }, t("coverage.any_class")),
    ["1", "2", "3"].map((c) => h("option", { value: c }, t("coverage.class_n", { n: c }))),
  );
  const alerts = h("div", { class: "alerts" });
  const summaryBox = h("div", { class: "coverage-summary", testid: "coverage-summary", "aria-live": "polite" });
  const table = h("table", { class: "grid coverage-grid", testid: "coverage-table" });
  const pagerBox = h("div", { class: "pager-box" });
  const download = h("button", { type: "button", class: "btn", testid: "coverage-xlsx", onclick: exportXlsx }, t("coverage.download"));

  root.append(
    h(
      "section",
      { class: "content page", "aria-labelledby": "coverage-title" },
      h("div", { class: "toolbar" }, h("h1", { id: "coverage-title", class: "page-title" }, t("coverage.title")), h("span", { class: "spacer" }), download),
      h("p", { class: "muted" }, t("coverage.explain")),
      h(
        "form",
        {
          class: "filters",
          role: "search",
          testid: "coverage-filters",
          onsubmit: (e) => {
            e.preventDefault();
            Object.assign(state, { date: dateInput.value, days: Number(daysSelect.value), region: regionInput.value.trim(), cls: classSelect.value, offset: 0 });
            load();
          },
        },
        h("div", { class: "field" }, h("label", { for: "coverage-date" }, t("coverage.date")), dateInput),
        h("div", { class: "field" }, h("label", { for: "coverage-days" }, t("coverage.days")), daysSelect),
        h("div", { class: "field" }, h("label", { for: "coverage-region" }, t("coverage.region")), regionInput),
        h("div", { class: "field" }, h("label", { for: "coverage-class" }, t("coverage.class")), classSelect),
        h("div", { class: "field field-end" }, h("button", { type: "submit", class: "btn btn-primary", testid: "coverage-apply" }, t("coverage.apply"))),
      ),
      alerts,
      summaryBox,
      h("div", { class: "table-wrap" }, table),
      h("p", { class: "coverage-legend muted" }, legend()),
      pagerBox,
    ),
  );

  function filters() {
    return { date: state.date, days: state.days, region: state.region, class: state.cls };
  }

  async function load() {
    generation += 1;
    const mine = generation;
    replaceQuery({ ...filters(), days: state.days === 7 ? "" : state.days, offset: state.offset || "", limit: state.limit === 50 ? "" : state.limit });
    try {
      const answer = await api.get("/coverage", { ...filters(), offset: state.offset, limit: state.limit });
      if (mine !== generation) return;
      replace(alerts);
      if (!dateInput.value) dateInput.value = answer.date;
      showSummary(answer);
      showTable(answer);
      replace(pagerBox, pager({ offset: state.offset, limit: state.limit, total: answer.total, onChange: (p) => { Object.assign(state, p); load(); } }));
    } catch (err) {
      if (mine === generation) replace(alerts, errorBox(err));
    }
  }

  function showSummary(answer) {
    const s = answer.summary;
    const rate = s.rate_pct === null ? "—" : `${s.rate_pct}%`;
    replace(
      summaryBox,
      h("strong", { testid: "coverage-kpi", dataset: { meeting: String(s.meeting), total: String(s.total) } }, t("coverage.kpi", { meeting: s.meeting, total: s.total, rate })),
      h("span", { class: "muted" }, ` · ${t("coverage.timezone", { tz: answer.timezone })}`),
    );
  }

  function showTable(answer) {
    const head = h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t("coverage.point")),
        h("th", { scope: "col" }, t("coverage.class")),
        h("th", { scope: "col" }, t("coverage.guarantee")),
        answer.days.map((d) => h("th", { scope: "col", class: "num" }, d.slice(5))),
      ),
    );
    const rows = answer.items.length
      ? answer.items.map(row)
      : [h("tr", {}, h("td", { colspan: String(3 + answer.days.length) }, t("common.empty")))];
    replace(table, h("caption", { class: "visually-hidden" }, t("coverage.title")), head, h("tbody", { testid: "coverage-rows" }, rows));
  }

  function row(item) {
    const meets = item.meets_guarantee;
    const badge = meets === null
      ? h("span", { class: "muted" }, t("coverage.no_guarantee"))
      : h("span", { class: meets ? "badge badge-online" : "badge badge-bad", title: breaksText(item.breaking_gaps) }, meets ? t("coverage.meets", { n: item.guarantee_days }) : t("coverage.fails", { n: item.guarantee_days }));
    return h(
      "tr",
      { testid: "coverage-row", dataset: { id: item.channel_id, meets: String(meets) } },
      h("th", { scope: "row" }, h("a", { href: `#/points/${encodeURIComponent(item.channel_id)}` }, item.name), h("div", { class: "mono muted small" }, item.channel_id)),
      h("td", {}, item.point_class),
      h("td", {}, badge),
      item.days.map(cell),
    );
  }

  function cell(day) {
    const pct = day.availability_pct;
    const level = pct === null ? "none" : pct >= 99.5 ? "full" : pct >= 90 ? "most" : pct > 0 ? "part" : "zero";
    const title = [`${day.date}: ${pct === null ? "—" : `${pct}%`} · ${t("coverage.recorded_h", { h: (day.recorded_s / 3600).toFixed(1) })}`, ...day.gaps.map(gapText)].join("\n");
    return h("td", { class: `num coverage-cell coverage-${level}`, title, testid: "coverage-cell", dataset: { date: day.date, gaps: String(day.gaps.length) } }, pct === null ? "—" : `${Math.floor(pct)}`);
  }

  async function exportXlsx() {
    download.disabled = true;
    try {
      await api.download("/coverage.xlsx", { ...filters(), lang: lang() }, "coverage.xlsx");
    } catch (err) {
      replace(alerts, errorBox(err));
    } finally {
      download.disabled = false;
    }
  }

  load();
  return undefined;
}

function gapText(gap) {
  return `${dateTime(gap.start)} – ${dateTime(gap.end)}: ${causeLabel(gap.cause)}`;
}

function breaksText(gaps) {
  return (gaps || []).map(gapText).join("\n");
}

export function causeLabel(cause) {
  return has(`coverage.cause.${cause}`) ? t(`coverage.cause.${cause}`) : cause;
}

function legend() {
  return [
    ["full", "coverage.legend_full"],
    ["most", "coverage.legend_most"],
    ["part", "coverage.legend_part"],
    ["zero", "coverage.legend_zero"],
  ].map(([level, key]) => h("span", { class: "coverage-legend-item" }, h("span", { class: `coverage-swatch coverage-${level}`, "aria-hidden": "true" }), t(key)));
}
