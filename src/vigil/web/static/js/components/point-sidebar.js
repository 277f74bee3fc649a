// The sidebar of the live and the playback page: the region tree above, the points of the
// selected region below (one request per selection; a late answer to an older one is dropped).

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { errorBox } from "./error-box.js";
import { regionTree } from "./tree.js";

const LIST_LIMIT = 500;

/**
 * listTestid: the test id of the point list. pointItem(channel): its <li>.
 * Returns {element, pointList, start()}; start() loads the tree and the points of all regions.
 */
export function pointSidebar({ listTestid, pointItem }) {
  const treeBox = h("div", { class: "live-tree", testid: "tree-panel" }, h("p", { class: "muted" }, t("common.loading")));
  const pointList = h("ul", { class: "live-points", testid: listTestid, "aria-label": t("livepage.points") });
  const listStatus = h("div", { class: "status-line" });
  const element = h(
    "aside",
    { class: "sidebar", "aria-label": t("sidebar.label") },
    h("div", { class: "sidebar-body live-sidebar" }, treeBox, h("h2", { class: "live-sub" }, t("livepage.points")), listStatus, pointList),
  );
  let region = "";
  let generation = 0;

  async function loadPoints() {
    generation += 1;
    const mine = generation;
    try {
      const answer = await api.get("/channels", { region, limit: LIST_LIMIT });
      if (mine !== generation) return;
      const items = (answer && answer.items) || [];
      replace(listStatus);
      replace(pointList, items.length ? items.map(pointItem) : h("li", { class: "muted" }, t("points.empty")));
    } catch (err) {
      if (mine === generation) replace(listStatus, errorBox(err));
    }
  }

  function start() {
    api
      .get("/regions/tree")
      .then((answer) => {
        const tree = regionTree({
          nodes: (answer && answer.nodes) || [],
          onSelect: (code) => {
            region = code;
            loadPoints();
          },
        });
        replace(treeBox, tree.element);
      })
      .catch((err) => replace(treeBox, errorBox(err)));
    loadPoints();
  }

  return { element, pointList, start };
}
