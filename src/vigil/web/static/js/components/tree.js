// Region tree (WAI-ARIA tree pattern): click or Enter selects a node, arrows move, Right/Left
// expand and collapse. Each row shows the online and total counts of points under it.

import { h } from "../dom.js";
import { t } from "../i18n.js";

export function regionTree({ nodes, selected = "", onSelect, label, showEmpty = false }) {
  const items = new Map(); // code → <li>
  const parents = new Map(); // code → parent code

  function renderNode(node, level, parentCode) {
    const code = node.code;
    const children = Array.isArray(node.children) ? node.children : [];
    parents.set(code, parentCode);
    const group = children.length
      ? h("ul", { role: "group", hidden: true }, children.map((c) => renderNode(c, level + 1, code)))
      : null;
    const row = h(
      "div",
      {
        class: "tree-row",
        testid: "tree-node",
        dataset: { code, level: String(node.level ?? level) },
        style: `--depth:${level - 1}`,
        title: `${node.name} (${code})`,
      },
      h("span", { class: children.length ? "tree-toggle" : "tree-toggle leaf", "aria-hidden": "true" }),
      h("span", { class: "tree-name" }, node.name),
      countsBadge(node),
    );
    const li = h(
      "li",
      { role: "treeitem", "aria-level": String(level), "aria-selected": "false", tabindex: "-1", dataset: { code } },
      row,
      group,
    );
    if (children.length) li.setAttribute("aria-expanded", "false");
    row.querySelector(".tree-toggle").addEventListener("click", (e) => {
      e.stopPropagation();
      toggle(li);
    });
    row.addEventListener("click", () => choose(code));
    if (code && totalOf(node) === 0) li.dataset.empty = "true";
    if (children.length && !children.some((c) => totalOf(c) > 0)) li.dataset.onlyEmptyChildren = "true";
    items.set(code, li);
    return li;
  }

  const allNode = { code: "", name: t("tree.all"), level: 0, ...totals(nodes), children: [] };
  const tree = h(
    "ul",
    { role: "tree", class: "tree", "aria-label": label || t("tree.title"), testid: "region-tree" },
    renderNode(allNode, 1, null),
    nodes.map((n) => renderNode(n, 1, null)),
  );

  function expand(li, open) {
    if (!li.hasAttribute("aria-expanded")) return;
    li.setAttribute("aria-expanded", open ? "true" : "false");
    const group = li.querySelector(":scope > ul");
    if (group) group.hidden = !open;
  }
  function toggle(li) {
    expand(li, li.getAttribute("aria-expanded") !== "true");
  }
  function focusItem(li) {
    for (const other of items.values()) other.tabIndex = -1;
    li.tabIndex = 0;
    li.focus();
  }
  function mark(code) {
    for (const [c, li] of items) {
      const on = c === code;
      li.setAttribute("aria-selected", on ? "true" : "false");
      li.classList.toggle("selected", on);
      li.tabIndex = on ? 0 : -1;
    }
    // open the path down to the selected node
    let p = parents.get(code);
    while (p) {
      expand(items.get(p), true);
      p = parents.get(p);
    }
  }
  function choose(code) {
    mark(code);
    expand(items.get(code), true);
    if (onSelect) onSelect(code);
  }
  function visibleItems() {
    return [...tree.querySelectorAll("li[role=treeitem]")].filter((li) => li.offsetParent !== null);
  }

  tree.addEventListener("keydown", (e) => {
    const li = e.target.closest("li[role=treeitem]");
    if (!li) return;
    const visible = visibleItems();
    const i = visible.indexOf(li);
    const code = li.dataset.code;
    let handled = true;
    switch (e.key) {
      case "ArrowDown":
        if (i < visible.length - 1) focusItem(visible[i + 1]);
        break;
      case "ArrowUp":
        if (i > 0) focusItem(visible[i - 1]);
        break;
      case "Home":
        focusItem(visible[0]);
        break;
      case "End":
        focusItem(visible[visible.length - 1]);
        break;
      case "ArrowRight":
        if (li.getAttribute("aria-expanded") === "false") expand(li, true);
        else if (li.getAttribute("aria-expanded") === "true") focusItem(li.querySelector("li[role=treeitem]"));
        break;
      case "ArrowLeft":
        if (li.getAttribute("aria-expanded") === "true") expand(li, false);
        else if (parents.get(code)) focusItem(items.get(parents.get(code)));
        break;
      case "Enter":
      case " ":
        choose(code);
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  });

  /** Regions without points in scope are hidden unless asked for (or selected). */
  function setShowEmpty(show) {
    tree.classList.toggle("show-empty", show);
  }

  // the first two levels holding points start open (province → city → counties)
  for (const n of nodes) {
    if (totalOf(n) === 0) continue;
    expand(items.get(n.code), true);
    for (const c of n.children || []) if (totalOf(c) > 0) expand(items.get(c.code), true);
  }
  setShowEmpty(showEmpty);
  mark(items.has(selected) ? selected : "");

  return { element: tree, select: mark, setShowEmpty };
}

// The API names the counts "total"/"online" (or "channels_total"/"channels_online").
const totalOf = (n) => n.total ?? n.channels_total ?? 0;
const onlineOf = (n) => n.online ?? n.channels_online ?? 0;

function totals(nodes) {
  return nodes.reduce(
    (acc, n) => ({ total: acc.total + totalOf(n), online: acc.online + onlineOf(n) }),
    { total: 0, online: 0 },
  );
}

function countsBadge(node) {
  const total = totalOf(node);
  const online = onlineOf(node);
  return h(
    "span",
    {
      class: "tree-count",
      title: t("tree.counts", { online, total }),
      "aria-label": t("tree.counts", { online, total }),
      testid: "tree-count",
    },
    h("span", { class: online > 0 ? "count-online" : "count-offline" }, String(online)),
    "/",
    String(total),
  );
}
