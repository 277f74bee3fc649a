// Entry point: restores the signed-in user, wires the router, redraws on language change.

import { onUnauthorized } from "./api.js";
import { t, onLangChange, applyDocumentLang } from "./i18n.js";
import { isSignedIn, loadMe, forget, signOut } from "./user.js";
import { route, fallback, guard, start, refresh, parseHash, buildHash } from "./router.js";
import { renderHeader } from "./components/shell.js";
import "./live.js";

const header = document.getElementById("app-header");
const main = document.getElementById("main");

route("/login", () => import("./pages/login.js"));
route("/points", () => import("./pages/points.js"));
route("/points/:id", () => import("./pages/point-detail.js"));
route("/live", () => import("./pages/live.js"));
route("/playback", () => import("./pages/playback.js"));
route("/playback/device", () => import("./pages/device-playback.js"));
route("/devices", () => import("./pages/devices.js"));
route("/devices/:id", () => import("./pages/device-detail.js"));
route("/import", () => import("./pages/import.js"));
route("/users", () => import("./pages/users.js"));
route("/audit", () => import("./pages/audit.js"));
route("/coverage", () => import("./pages/coverage.js"));
route("/alarms", () => import("./pages/alarms.js"));
route("/exports", () => import("./pages/exports.js"));
fallback(() => import("./pages/not-found.js"));

function toLogin() {
  const here = parseHash();
  const next = here.path === "/login" ? "" : buildHash(here.path, here.query).slice(1);
  location.replace(buildHash("/login", { next }));
}

async function doSignOut() {
  await signOut();
  location.replace(buildHash("/login"));
}

guard((loc) => {
  if (loc.path === "/") {
    location.replace(buildHash("/points"));
    return false;
  }
  const signedIn = isSignedIn();
  if (!signedIn && loc.path !== "/login") {
    toLogin();
    return false;
  }
  if (signedIn && loc.path === "/login") {
    location.replace(buildHash("/points"));
    return false;
  }
  const onLogin = loc.path === "/login";
  document.body.classList.toggle("is-login", onLogin);
  header.hidden = onLogin;
  if (!onLogin) renderHeader(header, { currentPath: loc.path, onSignOut: doSignOut });
  return true;
});

onUnauthorized(() => {
  forget();
  toLogin();
});

onLangChange(() => {
  document.title = t("app.title");
  refresh();
});

// The skip link must not touch the hash (the router owns it): focus the main area instead.
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

async function boot() {
  applyDocumentLang();
  document.title = t("app.title");
  if (isSignedIn()) {
    try {
      await loadMe();
    } catch {
      forget(); // 401 already redirected; any other failure also means starting over
    }
  }
  await start(main);
}

boot();
