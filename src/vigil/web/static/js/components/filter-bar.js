// Parts of a list page with a filter bar over a paginated table (devices, points): labelled
// selects, a search box applied after a pause in typing or at once on Enter, and the loader
// that fills the table, its count and its pager.

import { h, replace, debounce } from "../dom.js";
import { errorBox } from "./error-box.js";
import { pager } from "./pager.js";

const TEXT_DEBOUNCE_MS = 300;

/** {control, field}: a <select> (id and test id testid) of [value, text] options with its label. */
export function selectField(testid, label, value, options) {
  const control = h(
    "select",
    { id: testid, class: "input", testid, value },
    options.map(([v, text]) => h("option", { value: v }, text)),
  );
  return { control, field: h("div", { class: "field" }, h("label", { for: testid }, label), control) };
}

/**
 * Calls apply(text) with the trimmed text of a search input TEXT_DEBOUNCE_MS after the last
 * keystroke, or at once on Enter. Returns the pending call; cancel() it when the page goes.
 */
export function onSearchText(input, apply) {
  const onText = debounce(() => apply(input.value.trim()), TEXT_DEBOUNCE_MS);
  input.addEventListener("input", onText);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      onText.cancel();
      apply(input.value.trim());
    }
  });
  return onText;
}

/**
 * load() for a paginated table: fetch() answers {items, total}; the rows (row(item), or
 * emptyRow() when there are none) go into tbody, countText(total) into count and a pager over
 * state.offset / state.limit into pagerBox (onPage({offset, limit}) on a change); an error
 * goes into status. Only the answer to the latest call is shown; the table is aria-busy meanwhile.
 */
export function tableLoader({ table, tbody, status, count, countText, pagerBox, state, fetch, row, emptyRow, onPage }) {
  let generation = 0;
  return async function load() {
    generation += 1;
    const mine = generation;
    table.setAttribute("aria-busy", "true");
    try {
      const answer = await fetch();
      if (mine !== generation) return;
      const items = (answer && answer.items) || [];
      const total = answer.total ?? items.length;
      replace(status);
      replace(tbody, items.length ? items.map(row) : emptyRow());
      replace(count, countText(total));
      replace(pagerBox, pager({ offset: state.offset, limit: state.limit, total, onChange: onPage }));
    } catch (err) {
      if (mine !== generation) return;
      replace(status, errorBox(err));
      replace(tbody);
    } finally {
      if (mine === generation) table.removeAttribute("aria-busy");
    }
  };
}
