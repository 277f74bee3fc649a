// Short-lived status messages in the corner, announced to screen readers.

import { h } from "../dom.js";

function region() {
  let el = document.getElementById("toasts");
  if (!el) {
    el = h("div", { id: "toasts", class: "toasts", "aria-live": "polite", role: "status" });
    document.body.append(el);
  }
  return el;
}

export function toast(message, kind = "ok", timeoutMs = 4000) {
  const item = h("div", { class: `toast toast-${kind}`, testid: "toast" }, message);
  region().append(item);
  setTimeout(() => item.remove(), timeoutMs);
}
