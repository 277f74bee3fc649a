// Modal form on the native <dialog> element: focus is trapped, Escape cancels.

import { h } from "../dom.js";
import { t } from "../i18n.js";

/**
 * openDialog({title, body, submitLabel, onSubmit}) shows a modal form. onSubmit(form) may
 * throw to keep the dialog open (it should then show the error inside body); the dialog
 * closes when it resolves. Returns the <dialog> element.
 */
export function openDialog({ title, body, submitLabel, onSubmit, testid = "dialog", danger = false }) {
  const titleId = `dlg-${Math.random().toString(36).slice(2, 8)}`;
  const submit = h(
    "button",
    { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary", testid: `${testid}-submit` },
    submitLabel || t("common.save"),
  );
  const form = h(
    "form",
    { method: "dialog", class: "dialog-form", novalidate: true },
    h("h2", { id: titleId, class: "dialog-title" }, title),
    h("div", { class: "dialog-body" }, body),
    h(
      "div",
      { class: "dialog-actions" },
      h(
        "button",
        { type: "button", class: "btn", testid: `${testid}-cancel`, onclick: () => dialog.close() },
        t("common.cancel"),
      ),
      submit,
    ),
  );
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId, testid }, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await onSubmit(form);
      dialog.close();
    } catch {
      /* onSubmit has shown why; keep the dialog open */
    } finally {
      submit.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  const first = form.querySelector("input, select, textarea");
  if (first) first.focus();
  return dialog;
}
