// Organisations: loading all of them page by page, and the searchable sidebar list.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";

const PAGE = 200;
const MAX = 5000;

export async function loadOrganisations(params = {}) {
  const items = [];
  for (let offset = 0; offset < MAX; offset += PAGE) {
    const answer = await api.get("/organisations", { ...params, offset, limit: PAGE });
    const page = (answer && answer.items) || [];
    items.push(...page);
    const total = answer && typeof answer.total === "number" ? answer.total : items.length;
    if (page.length === 0 || items.length >= total) break;
  }
  return items;
}

export function orgList({ items, selected: initial = "", onSelect }) {
  let selected = initial;
  const search = h("input", {
    id: "org-search",
    type: "search",
    class: "input",
    testid: "org-search",
    placeholder: t("orgs.search_placeholder"),
    autocomplete: "off",
  });
  const list = h("ul", { class: "org-list", testid: "org-list", "aria-label": t("sidebar.orgs") });

  function entry(id, name, hint) {
    const on = String(selected) === String(id);
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: on ? "org-item selected" : "org-item",
          "aria-pressed": on ? "true" : "false",
          testid: "org-node",
          dataset: { id: String(id) },
          onclick: () => onSelect(String(id)),
        },
        h("span", { class: "org-name" }, name),
        hint ? h("span", { class: "org-hint" }, hint) : null,
      ),
    );
  }

  function draw() {
    const needle = search.value.trim().toLowerCase();
    const shown = items.filter(
      (o) => !needle || `${o.name} ${o.code} ${o.region_code || ""}`.toLowerCase().includes(needle),
    );
    replace(
      list,
      entry("", t("orgs.all")),
      shown.map((o) => entry(o.id, o.name, o.code)),
      shown.length === 0 ? h("li", { class: "muted pad" }, t("common.empty")) : null,
    );
  }
  search.addEventListener("input", draw);
  draw();
  const element = h(
    "div",
    { class: "org-panel" },
    h("label", { for: "org-search", class: "visually-hidden" }, t("orgs.search")),
    search,
    list,
  );
  return {
    element,
    select(id) {
      selected = id;
      draw();
    },
  };
}
