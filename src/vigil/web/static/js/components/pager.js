// Offset/limit pager: "1–50 of 1,234", previous / next, rows per page.

import { h } from "../dom.js";
import { t } from "../i18n.js";

export const PAGE_SIZES = [25, 50, 100, 200];

export function pager({ offset, limit, total, onChange }) {
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  const sizeId = `pager-size-${Math.random().toString(36).slice(2, 8)}`;
  return h(
    "nav",
    { class: "pager", "aria-label": t("common.pagination"), testid: "pager" },
    h("span", { class: "pager-range", testid: "pager-range" }, t("common.range", { from, to, total })),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        disabled: offset <= 0,
        testid: "pager-prev",
        onclick: () => onChange({ offset: Math.max(0, offset - limit), limit }),
      },
      `‹ ${t("common.prev")}`,
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        disabled: offset + limit >= total,
        testid: "pager-next",
        onclick: () => onChange({ offset: offset + limit, limit }),
      },
      `${t("common.next")} ›`,
    ),
    h("label", { for: sizeId, class: "pager-size-label" }, t("common.page_size")),
    h(
      "select",
      {
        id: sizeId,
        class: "input input-small",
        testid: "pager-size",
        value: String(limit),
        onchange: (e) => onChange({ offset: 0, limit: Number(e.target.value) }),
      },
      PAGE_SIZES.map((n) => h("option", { value: String(n) }, String(n))),
    ),
  );
}
