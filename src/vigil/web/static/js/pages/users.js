// Users and roles: list, create, edit role and scope, disable/enable, reset password,
// sign a user out everywhere; the roles with their permissions.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { can, currentUser } from "../user.js";
import { roleLabel, permissionLabel, dateTime } from "../format.js";
import { errorBox } from "../components/error-box.js";
import { openDialog } from "../components/dialog.js";
import { toast } from "../components/toast.js";
import { loadOrganisations } from "../components/org-list.js";

export function render(root) {
  if (!can("users.manage")) {
    root.append(h("section", { class: "content page" }, h("div", { class: "alert alert-error", role: "alert" }, t("page.forbidden"))));
    return undefined;
  }
  const alerts = h("div", { class: "alerts" });
  const tbody = h("tbody", { testid: "user-rows" });
  const rolesBody = h("tbody", { testid: "role-rows" });
  let roles = [];
  let regions = []; // [{code, name, depth}]
  let organisations = [];

  root.append(
    h(
      "section",
      { class: "content page", "aria-labelledby": "users-title" },
      h(
        "div",
        { class: "toolbar" },
        h("h1", { id: "users-title", class: "page-title" }, t("users.title")),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "btn btn-primary", testid: "user-create", onclick: () => editUser(null) }, `+ ${t("users.create")}`),
      ),
      alerts,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", testid: "user-table" },
          h("caption", { class: "visually-hidden" }, t("users.title")),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["users.username", "users.display_name", "users.role", "users.scope", "users.status", "users.created_at", "common.actions"].map((k) =>
                h("th", { scope: "col" }, t(k)),
              ),
            ),
          ),
          tbody,
        ),
      ),
      h("h2", { class: "section-title", id: "roles-title" }, t("roles.title")),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "grid", testid: "role-table", "aria-labelledby": "roles-title" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("roles.name")), h("th", { scope: "col" }, t("roles.permissions")))),
          rolesBody,
        ),
      ),
    ),
  );

  function scopeText(scope) {
    if (!scope || scope.all) return t("scope.all");
    const names = new Map(regions.map((r) => [r.code, r.name]));
    const orgNames = new Map(organisations.map((o) => [String(o.id), o.name]));
    const parts = [];
    if (scope.regions && scope.regions.length) {
      parts.push(`${t("scope.regions")}: ${scope.regions.map((c) => (names.has(c) ? `${names.get(c)} (${c})` : c)).join(", ")}`);
    }
    if (scope.orgs && scope.orgs.length) {
      parts.push(`${t("scope.orgs")}: ${scope.orgs.map((id) => orgNames.get(String(id)) || `#${id}`).join(", ")}`);
    }
    return parts.length ? parts.join("; ") : t("scope.none");
  }

  function userRow(u) {
    const me = currentUser();
    const self = me && me.id === u.id;
    const act = (testid, label, fn, cls = "btn btn-small") => h("button", { type: "button", class: cls, testid, onclick: fn }, label);
    return h(
      "tr",
      { testid: "user-row", dataset: { id: String(u.id), username: u.username, disabled: String(Boolean(u.disabled)) } },
      h("td", { class: "mono" }, u.username),
      h("td", {}, u.display_name || ""),
      h("td", {}, h("span", { class: "tag" }, roleLabel(u.role))),
      h("td", { class: "scope-cell" }, scopeText(u.scope)),
      h(
        "td",
        {},
        h("span", { class: u.disabled ? "badge badge-offline" : "badge badge-online", testid: "user-status" }, t(u.disabled ? "users.disabled" : "users.active")),
      ),
      h("td", {}, dateTime(u.created_at)),
      h(
        "td",
        { class: "actions" },
        act("user-edit", t("users.edit"), () => editUser(u)),
        act("user-password", t("users.reset_password"), () => resetPassword(u)),
        act("user-revoke", t("users.revoke"), () => revoke(u)),
        self
          ? null
          : u.disabled
            ? act("user-enable", t("users.enable"), () => setDisabled(u, false))
            : act("user-disable", t("users.disable"), () => setDisabled(u, true), "btn btn-small btn-danger"),
      ),
    );
  }

  async function loadUsers() {
    try {
      const answer = await api.get("/users");
      const items = (answer && answer.items) || [];
      replace(tbody, items.length ? items.map(userRow) : h("tr", {}, h("td", { colspan: "7" }, t("common.empty"))));
    } catch (err) {
      replace(alerts, errorBox(err));
    }
  }

  async function loadRoles() {
    try {
      const answer = await api.get("/roles");
      roles = (answer && answer.items) || [];
      replace(
        rolesBody,
        roles.map((r) =>
          h(
            "tr",
            { testid: "role-row", dataset: { role: r.name } },
            h("th", { scope: "row" }, roleLabel(r.name), h("div", { class: "mono muted small" }, r.name)),
            h(
              "td",
              {},
              h("ul", { class: "chips" }, (r.permissions || []).map((p) => h("li", { class: "chip", title: p }, permissionLabel(p)))),
            ),
          ),
        ),
      );
    } catch (err) {
      replace(alerts, errorBox(err));
    }
  }

  function editUser(user) {
    const creating = user === null;
    const scope = (user && user.scope) || { all: false, regions: [], orgs: [] };
    const errorSlot = h("div", { class: "alerts" });
    const field = (id, label, control, hint) =>
      h("div", { class: "form-row" }, h("label", { for: id }, label), h("div", {}, control, hint ? h("div", { class: "hint" }, hint) : null));
    const username = h("input", { id: "user-username", class: "input", testid: "user-username", required: true, autocomplete: "off", maxlength: 64 });
    const displayName = h("input", { id: "user-display-name", class: "input", testid: "user-display-name", value: user ? user.display_name || "" : "", maxlength: 100 });
    const password = h("input", { id: "user-password-input", type: "password", class: "input", testid: "user-password-input", required: true, autocomplete: "new-password" });
    const roleNames = roles.length ? roles.map((r) => r.name) : ["admin", "operator", "viewer", "auditor", "approver"];
    const role = h(
      "select",
      { id: "user-role", class: "input", testid: "user-role", value: user ? user.role : "viewer" },
      roleNames.map((n) => h("option", { value: n }, roleLabel(n))),
    );
    const all = h("input", { id: "user-scope-all", type: "checkbox", testid: "user-scope-all", checked: Boolean(scope.all) });
    const regionSel = h(
      "select",
      { id: "user-scope-regions", class: "input", multiple: true, size: "8", testid: "user-scope-regions" },
      regions.map((r) =>
        h("option", { value: r.code, selected: (scope.regions || []).includes(r.code) }, `${"\u00a0\u00a0".repeat(r.depth)}${r.name} (${r.code})`),
      ),
    );
    const orgSel = h(
      "select",
      { id: "user-scope-orgs", class: "input", multiple: true, size: "6", testid: "user-scope-orgs" },
      organisations.map((o) =>
        h("option", { value: String(o.id), selected: (scope.orgs || []).map(String).includes(String(o.id)) }, `${o.name} (${o.code})`),
      ),
    );
    const syncScope = () => {
      regionSel.disabled = all.checked;
      orgSel.disabled = all.checked;
    };
    all.addEventListener("change", syncScope);
    syncScope();

    const body = [
      errorSlot,
      creating ? field("user-username", t("users.username"), username) : null,
      field("user-display-name", t("users.display_name"), displayName),
      creating ? field("user-password-input", t("users.password"), password) : null,
      field("user-role", t("users.role"), role),
      h("fieldset", {}, h("legend", {}, t("users.scope")),
        h("div", { class: "form-row form-row-check" }, h("span"), h("span", { class: "check" }, all, h("label", { for: "user-scope-all" }, t("scope.all")))),
        field("user-scope-regions", t("scope.regions"), regionSel, t("scope.multi_hint")),
        field("user-scope-orgs", t("scope.orgs"), orgSel),
      ),
    ];

    openDialog({
      title: creating ? t("users.create") : t("users.edit_title", { name: user.username }),
      body,
      submitLabel: creating ? t("users.create_submit") : t("common.save"),
      testid: "user-dialog",
      onSubmit: async () => {
        const newScope = all.checked
          ? { all: true, regions: [], orgs: [] }
          : {
              all: false,
              regions: [...regionSel.selectedOptions].map((o) => o.value),
              orgs: [...orgSel.selectedOptions].map((o) => Number(o.value)),
            };
        try {
          if (creating) {
            await api.post("/users", {
              username: username.value.trim(),
              password: password.value,
              display_name: displayName.value.trim(),
              role: role.value,
              scope: newScope,
            });
            toast(t("users.created", { name: username.value.trim() }));
          } else {
            await api.patch(`/users/${user.id}`, { display_name: displayName.value.trim(), role: role.value, scope: newScope });
            toast(t("common.saved"));
          }
        } catch (err) {
          replace(errorSlot, errorBox(err, { testid: "user-dialog-error" }));
          throw err;
        }
        await loadUsers();
      },
    });
  }

  function resetPassword(user) {
    const errorSlot = h("div", { class: "alerts" });
    const password = h("input", { id: "user-new-password", type: "password", class: "input", testid: "user-new-password", required: true, autocomplete: "new-password" });
    openDialog({
      title: t("users.reset_password_title", { name: user.username }),
      body: [errorSlot, h("div", { class: "form-row" }, h("label", { for: "user-new-password" }, t("users.new_password")), password)],
      submitLabel: t("users.reset_password"),
      testid: "password-dialog",
      onSubmit: async () => {
        try {
          await api.post(`/users/${user.id}/password`, { password: password.value });
          toast(t("users.password_set"));
        } catch (err) {
          replace(errorSlot, errorBox(err, { testid: "password-dialog-error" }));
          throw err;
        }
      },
    });
  }

  function confirmAction({ title, text, submitLabel, danger, action, testid }) {
    const errorSlot = h("div", { class: "alerts" });
    openDialog({
      title,
      body: [errorSlot, h("p", {}, text)],
      submitLabel,
      danger,
      testid,
      onSubmit: async () => {
        try {
          await action();
        } catch (err) {
          replace(errorSlot, errorBox(err));
          throw err;
        }
      },
    });
  }

  function revoke(user) {
    confirmAction({
      title: t("users.revoke"),
      text: t("users.revoke_confirm", { name: user.username }),
      submitLabel: t("users.revoke"),
      danger: true,
      testid: "revoke-dialog",
      action: async () => {
        await api.post(`/users/${user.id}/revoke-sessions`);
        toast(t("users.revoked", { name: user.username }));
      },
    });
  }

  function setDisabled(user, disabled) {
    const go = async () => {
      await api.patch(`/users/${user.id}`, { disabled });
      toast(t(disabled ? "users.disabled_done" : "users.enabled_done", { name: user.username }));
      await loadUsers();
    };
    if (!disabled) {
      go().catch((err) => replace(alerts, errorBox(err)));
      return;
    }
    confirmAction({
      title: t("users.disable"),
      text: t("users.disable_confirm", { name: user.username }),
      submitLabel: t("users.disable"),
      danger: true,
      testid: "disable-dialog",
      action: go,
    });
  }

  Promise.all([
    api.get("/regions/tree").then((a) => {
      regions = flatten((a && a.nodes) || []);
    }),
    loadOrganisations().then((items) => {
      organisations = items;
    }),
  ])
    .catch(() => {})
    .then(() => Promise.all([loadRoles(), loadUsers()]));
  return undefined;
}

function flatten(nodes, depth = 0, out = []) {
  for (const n of nodes) {
    out.push({ code: n.code, name: n.name, depth });
    if (Array.isArray(n.children)) flatten(n.children, depth + 1, out);
  }
  return out;
}
