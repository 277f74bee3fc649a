// Top bar: brand, navigation (by permission), signed-in user and role, language, sign out.

import { h, replace } from "../dom.js";
import { t, lang, setLang, LANGUAGES } from "../i18n.js";
import { can, currentUser } from "../user.js";
import { roleLabel } from "../format.js";
import { showState } from "../live.js";

const NAV = [
  { path: "/points", key: "nav.points", testid: "nav-points" },
  { path: "/live", key: "nav.live", testid: "nav-live", permission: "live.view" },
  { path: "/playback", key: "nav.playback", testid: "nav-playback", permission: "playback.view" },
  { path: "/devices", key: "nav.devices", testid: "nav-devices", permission: "registry.read" },
  { path: "/import", key: "nav.import", testid: "nav-import", permission: "ledger.import" },
  { path: "/users", key: "nav.users", testid: "nav-users", permission: "users.manage" },
  { path: "/audit", key: "nav.audit", testid: "nav-audit", permission: "audit.read" },
  { path: "/coverage", key: "nav.coverage", testid: "nav-coverage", permission: "registry.read" },
  { path: "/alarms", key: "nav.alarms", testid: "nav-alarms", permission: "registry.read" },
  { path: "/exports", key: "nav.exports", testid: "nav-exports", permission: ["export.create", "audit.read"] },
];

export function languageSwitch() {
  const select = h(
    "select",
    { id: "lang-switch", class: "input input-small", testid: "lang-switch", value: lang() },
    LANGUAGES.map(([code, name]) => h("option", { value: code, lang: code === "zh" ? "zh-CN" : "en" }, name)),
  );
  select.addEventListener("change", () => setLang(select.value));
  return h("span", { class: "lang-switch" }, h("label", { for: "lang-switch", class: "visually-hidden" }, t("header.language")), select);
}

export function renderHeader(header, { currentPath, onSignOut }) {
  const user = currentUser();
  const section = `/${(currentPath || "").split("/")[1] || ""}`;
  const links = NAV.filter((n) => !n.permission || [].concat(n.permission).some(can)).map((n) =>
    h(
      "a",
      { href: `#${n.path}`, class: "nav-link", testid: n.testid, "aria-current": section === n.path ? "page" : null },
      t(n.key),
    ),
  );
  replace(
    header,
    h(
      "a",
      { class: "brand", href: "#/points", "aria-label": t("app.name") },
      h("span", { class: "brand-mark", "aria-hidden": "true" }),
      h("span", { class: "brand-name" }, t("app.name")),
      h("span", { class: "brand-sub" }, t("app.subtitle")),
    ),
    h("nav", { class: "nav", "aria-label": t("nav.label") }, links),
    h("span", { class: "spacer" }),
    liveIndicator(),
    user
      ? h(
          "span",
          { class: "who", testid: "current-user", title: user.username, dataset: { username: user.username } },
          h("span", { class: "who-name" }, user.display_name || user.username),
          user.display_name && user.display_name !== user.username
            ? h("span", { class: "who-login mono" }, user.username)
            : null,
          h("span", { class: "tag tag-role", testid: "current-role" }, roleLabel(user.role)),
        )
      : null,
    languageSwitch(),
    h("button", { type: "button", class: "btn btn-small btn-ghost", testid: "logout", onclick: onSignOut }, t("header.logout")),
  );
}

/** A small badge showing whether live status updates are flowing (see live.js). */
function liveIndicator() {
  const el = h("span", { class: "live-status", testid: "live-status" });
  showState(el);
  return el;
}
