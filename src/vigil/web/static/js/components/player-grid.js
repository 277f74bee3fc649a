// The grid of player cells on the live and the playback page: the grid-size buttons and the
// growing, shrinking and laying out of the cells.

import { h, replace } from "../dom.js";
import { t } from "../i18n.js";

/**
 * The label and button group that pick a grid size among sizes (test ids `${testidPrefix}-${n}`,
 * onPick(n) on a click). Returns {elements, press(n)}; press(n) marks the button of n pressed.
 */
export function gridSizeControl(sizes, testidPrefix, onPick) {
  const buttons = sizes.map((n) =>
    h("button", { type: "button", class: "btn btn-small", testid: `${testidPrefix}-${n}`, "aria-pressed": "false", onclick: () => onPick(n) }, String(n)),
  );
  return {
    elements: [
      h("span", { class: "muted" }, t("livepage.grid")),
      h("div", { class: "btn-group", role: "group", "aria-label": t("livepage.grid") }, buttons),
    ],
    press: (n) => buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(sizes[i] === n))),
  };
}

/**
 * Grows cells to n with makeCell(index) or shrinks it, passing each removed cell to stop(cell),
 * and lays them out in grid, √n columns wide.
 */
export function resizeGrid(grid, cells, n, makeCell, stop) {
  while (cells.length < n) cells.push(makeCell(cells.length));
  while (cells.length > n) stop(cells.pop());
  grid.style.setProperty("--cols", String(Math.sqrt(n)));
  replace(grid, cells.map((c) => c.element));
}
