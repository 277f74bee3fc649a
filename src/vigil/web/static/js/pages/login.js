// Sign-in form. On success the app goes to the page that asked for it (or the point list).

import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { signIn } from "../user.js";
import { navigate } from "../router.js";
import { errorBox } from "../components/error-box.js";
import { languageSwitch } from "../components/shell.js";

export function render(root, _params, query) {
  const alerts = h("div", { class: "alerts", "aria-live": "assertive" });
  const username = h("input", { id: "login-username", class: "input", testid: "login-username", autocomplete: "username", required: true });
  const password = h("input", { id: "login-password", type: "password", class: "input", testid: "login-password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", testid: "login-submit" }, t("login.submit"));

  async function onSubmit(event) {
    event.preventDefault();
    replace(alerts);
    if (!username.value.trim() || !password.value) {
      replace(alerts, h("div", { class: "alert alert-error", role: "alert", testid: "login-error" }, t("login.missing")));
      return;
    }
    submit.disabled = true;
    try {
      await signIn(username.value.trim(), password.value);
      const next = query.next && query.next.startsWith("/") && !query.next.startsWith("/login") ? query.next : "/points";
      const [path, search = ""] = next.split("?");
      navigate(path, Object.fromEntries(new URLSearchParams(search)));
    } catch (err) {
      let box;
      if (err.status === 401) box = h("div", { class: "alert alert-error", role: "alert", testid: "login-error" }, t("login.failed"));
      else if (err.status === 429) box = h("div", { class: "alert alert-error", role: "alert", testid: "login-error" }, t("login.throttled"));
      else box = errorBox(err, { testid: "login-error" });
      replace(alerts, box);
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
    }
  }

  root.append(
    h(
      "div",
      { class: "login-screen" },
      h(
        "form",
        { class: "login-card", testid: "login-form", onsubmit: onSubmit, novalidate: true, "aria-labelledby": "login-title" },
        h(
          "div",
          { class: "login-brand" },
          h("span", { class: "brand-mark", "aria-hidden": "true" }),
          h("div", {}, h("div", { class: "brand-name" }, t("app.name")), h("div", { class: "brand-sub" }, t("app.subtitle"))),
        ),
        h("h1", { id: "login-title", class: "login-title" }, t("login.title")),
        alerts,
        h("div", { class: "field" }, h("label", { for: "login-username" }, t("login.username")), username),
        h("div", { class: "field" }, h("label", { for: "login-password" }, t("login.password")), password),
        submit,
        h("div", { class: "login-foot" }, languageSwitch()),
      ),
    ),
  );
  username.focus();
  return undefined;
}
