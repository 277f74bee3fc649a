// Tabs (WAI-ARIA tabs pattern): click or Left/Right arrows switch the visible panel.

import { h } from "../dom.js";

/** defs: [{id, label, panel}]; the first tab starts selected. Returns the tab list. */
export function tabs(defs) {
  const buttons = defs.map((d, i) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        class: "tab",
        id: `tab-${d.id}`,
        testid: `sidebar-tab-${d.id}`,
        "aria-selected": i === 0 ? "true" : "false",
        tabindex: i === 0 ? "0" : "-1",
        onclick: () => activate(i),
      },
      d.label,
    ),
  );
  function activate(i) {
    defs.forEach((d, j) => {
      buttons[j].setAttribute("aria-selected", i === j ? "true" : "false");
      buttons[j].tabIndex = i === j ? 0 : -1;
      d.panel.hidden = i !== j;
    });
    buttons[i].focus();
  }
  defs.forEach((d) => {
    d.panel.setAttribute("role", "tabpanel");
    d.panel.setAttribute("aria-labelledby", `tab-${d.id}`);
  });
  const list = h("div", { role: "tablist", class: "tabs" }, buttons);
  list.addEventListener("keydown", (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    if (e.key === "ArrowRight") activate((i + 1) % buttons.length);
    else if (e.key === "ArrowLeft") activate((i - 1 + buttons.length) % buttons.length);
    else return;
    e.preventDefault();
  });
  return list;
}
