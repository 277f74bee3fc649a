import { h } from "../dom.js";
import { t } from "../i18n.js";

export function render(root) {
  root.append(
    h(
      "section",
      { class: "content page" },
      h("h1", { class: "page-title" }, t("page.not_found")),
      h("p", {}, h("a", { href: "#/points" }, t("page.to_points"))),
    ),
  );
  return undefined;
}
