// Console (admins): users (search, open, roles, disable, delete, sign-in methods, their sessions
// and evaluations read-only) and the audit log (filtered by user, action and time; paged).

import { admin, listOf, plugins } from "../api.js";
import { app } from "../app.js";
import { append, field, fill, h } from "../dom.js";
import { dateTime, score } from "../format.js";
import { t } from "../i18n.js";
import { consoleNav, dataTable, problemText } from "../console.js";
import { confirmStep } from "./console_editor.js";

const ROLES = ["user", "scripter", "admin"];

// A message for the users list after a deletion (the page-wide notice is cleared by the navigation).
let flash = "";

function roleNames(roles) {
  const names = { user: t("console.role_user"), scripter: t("console.role_scripter"), admin: t("console.role_admin") };
  return (roles || []).map((r) => names[r] || r).join(", ");
}

export async function renderUsers(main, ctx) {
  ctx.setTitle(t("console.users_title"));
  const search = h("input", { type: "search", id: "user-search", name: "q", autocomplete: "off" });
  const body = h("tbody", { id: "user-rows" });
  const count = h("p", { class: "count", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "button", id: "users-more", text: t("console.more"), hidden: true });
  const done = h("p", { class: "status-line", id: "users-status", role: "status", text: flash });
  flash = "";
  let cursor = null;
  let shown = 0;

  function row(u) {
    return h("tr", { dataset: { userId: u.id } },
      h("th", { scope: "row" }, h("a", { href: `#/console/users/${encodeURIComponent(u.id)}`, text: u.display_name || u.email || u.id })),
      h("td", { text: u.email || "–" }), h("td", { text: roleNames(u.roles) }),
      h("td", { text: u.disabled ? t("console.disabled") : t("console.enabled") }));
  }

  let run = 0; // only the newest search shows: an older answer arriving late is dropped
  async function load(append_) {
    const mine = ++run;
    try {
      const page = await admin.users({ q: search.value.trim(), cursor: append_ ? cursor : undefined, limit: 50 });
      if (ctx.signal.aborted || mine !== run) return;
      const users = listOf(page);
      cursor = page.next_cursor;
      shown = append_ ? shown + users.length : users.length;
      if (append_) append(body, users.map(row));
      else fill(body, users.map(row));
      if (!shown) fill(body, h("tr", {}, h("td", { colspan: "4", class: "empty", text: t("console.no_users") })));
      count.textContent = t("console.user_count", { count: shown });
      more.hidden = !cursor;
    } catch (error) {
      count.textContent = problemText(error);
    }
  }
  const form = h("form", { class: "toolbar", role: "search" }, field(t("console.user_search"), search, t("console.user_search_hint")).field,
    h("button", { type: "submit", class: "button", text: t("console.apply") }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener("click", () => load(true));
  fill(main, consoleNav(app.user, "users"), h("h1", { tabindex: "-1", text: t("console.users_title") }), done, form, count,
    dataTable([t("console.col_name"), t("console.col_email"), t("console.col_roles"), t("console.col_account")], body), more);
  await load(false);
}

export async function renderUser(main, ctx) {
  const [userId] = ctx.params;
  let user = await admin.user(userId);
  if (ctx.signal.aborted) return;
  ctx.setTitle(user.display_name || user.email || user.id);
  const status = h("p", { class: "status-line", id: "user-status", role: "status" });
  const about = h("dl", { class: "meta user-meta" });
  const boxes = ROLES.map((role) => h("input", { type: "checkbox", name: "roles", value: role, id: `role-${role}` }));
  const saveRoles = h("button", { type: "submit", class: "button primary", id: "save-roles", text: t("console.save_roles") });
  const toggle = h("button", { type: "button", class: "button", id: "toggle-disabled" });
  const remove = h("button", { type: "button", class: "button danger", id: "delete-user", text: t("console.delete_user") });

  function show() {
    fill(about,
      h("div", {}, h("dt", { text: t("console.col_email") }), h("dd", { text: user.email || "–" })),
      h("div", {}, h("dt", { text: t("console.col_roles") }), h("dd", { id: "user-roles", text: roleNames(user.roles) })),
      h("div", {}, h("dt", { text: t("console.col_account") }), h("dd", { id: "user-account", text: user.disabled ? t("console.disabled") : t("console.enabled") })),
      h("div", {}, h("dt", { text: t("console.created") }), h("dd", { text: dateTime(user.created_at) })),
      h("div", {}, h("dt", { text: t("console.sign_in_methods") }), h("dd", { id: "user-methods",
        text: (user.auth_methods || []).map((m) => [m.id, m.email || m.subject || ""].filter(Boolean).join(" · ")).join(", ") || "–" })));
    boxes.forEach((box) => {
      box.checked = user.roles.includes(box.value);
    });
    toggle.textContent = user.disabled ? t("console.enable") : t("console.disable");
  }

  async function update(body, done) {
    try {
      user = await admin.update(userId, body);
      show();
      status.textContent = done;
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  const rolesForm = h("form", { class: "card console-section", id: "roles-form" },
    h("fieldset", {}, h("legend", { text: t("console.roles_legend") }),
      boxes.map((box) => h("label", { class: "choice", for: box.id }, box, roleNames([box.value])))),
    h("div", { class: "actions" }, saveRoles));
  rolesForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const roles = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!roles.length) {
      status.textContent = t("console.one_role_at_least");
      return;
    }
    update({ roles }, t("console.roles_saved", { roles: roleNames(roles) }));
  });
  toggle.addEventListener("click", () => {
    const disabling = !user.disabled;
    update({ disabled: disabling }, disabling ? t("console.user_disabled") : t("console.user_enabled"));
  });
  remove.addEventListener("click", () => {
    confirmStep(remove, t("console.delete_question", { name: user.email || user.display_name || user.id }), t("console.delete_yes"), async () => {
      try {
        await admin.remove(userId);
        flash = t("console.user_deleted");
        app.go("#/console/users");
      } catch (error) {
        status.textContent = problemText(error);
      }
    });
  });

  // Read-only: their sessions and evaluations, where the chat and evaluator APIs let admins look.
  const activity = h("section", { class: "card console-section", id: "user-activity" }, h("h2", { text: t("console.activity_title") }));
  async function loadActivity() {
    const [sessions, evaluations] = await Promise.all([
      plugins.has("chat") ? admin.sessions(userId).catch((e) => e) : null,
      plugins.has("evaluator") ? admin.evaluations(userId).catch((e) => e) : null,
    ]);
    if (ctx.signal.aborted) return;
    const list = (answer, make, none) => {
      if (answer === null) return null;
      if (answer instanceof Error) return h("p", { text: problemText(answer) });
      const items = listOf(answer);
      return items.length ? h("ul", { class: "activity-list" }, items.map(make)) : h("p", { class: "muted", text: none });
    };
    append(activity,
      h("h3", { text: t("console.sessions_heading") }),
      list(sessions, (s) => h("li", { dataset: { sessionId: s.id } },
        h("a", { href: `#/console/sessions/${encodeURIComponent(s.id)}`, text: s.title }),
        ` · ${s.status === "active" ? t("sessions.active") : t("sessions.ended")} · ${dateTime(s.created_at)}`), t("console.no_sessions")),
      h("h3", { text: t("console.evaluations_heading") }),
      list(evaluations, (e) => h("li", { dataset: { evaluationId: e.id } },
        e.status === "done" ? h("a", { href: `#/report/${encodeURIComponent(e.id)}`, text: t("console.evaluation_line", { score: score(e.overall_score), when: dateTime(e.created_at) }) })
          : `${e.status} · ${dateTime(e.created_at)}`), t("console.no_evaluations")));
  }

  show();
  fill(main, consoleNav(app.user, "users"),
    h("p", { class: "back" }, h("a", { href: "#/console/users", text: t("console.back_to_users") })),
    h("h1", { tabindex: "-1", text: user.display_name || user.email || user.id }),
    h("section", { class: "card console-section" }, about,
      h("p", {}, h("a", { href: `#/console/audit?user=${encodeURIComponent(userId)}`, id: "user-audit-link", text: t("console.audit_for_user") }))),
    status, rolesForm,
    h("section", { class: "card console-section" }, h("h2", { text: t("console.account_title") }),
      h("p", { class: "hint", text: t("console.delete_hint") }), h("div", { class: "actions" }, toggle, remove)),
    activity);
  await loadActivity();
}

/** One learner's session, read-only: what was said, in order (GET /chat/sessions/{id}, as an admin). */
export async function renderSessionTranscript(main, ctx) {
  const [sessionId] = ctx.params;
  const session = await admin.session(sessionId);
  if (ctx.signal.aborted) return;
  ctx.setTitle(session.title);
  const speaker = (m) => (m.role === "learner" ? t("console.preview_you") : t("console.preview_character"));
  fill(main, consoleNav(app.user, "users"),
    h("p", { class: "back" }, h("a", { href: `#/console/users/${encodeURIComponent(session.user_id)}`, text: t("console.back_to_user") })),
    h("h1", { tabindex: "-1", text: session.title }),
    h("p", { class: "muted", text: t("console.transcript_line", { when: dateTime(session.created_at),
      status: session.status === "active" ? t("sessions.active") : t("sessions.ended") }) }),
    h("ol", { class: "messages transcript", id: "transcript" }, (session.messages || []).map((m) =>
      h("li", { class: `message ${m.role}`, dataset: { role: m.role } },
        h("span", { class: "speaker", text: speaker(m) }), h("span", { class: "text", text: m.text })))));
}

// -- the audit log ---------------------------------------------------------------------------

const EVENT_TYPES = ["login.", "login.succeeded", "login.failed", "refresh.reused", "user.", "user.registered",
  "user.roles_changed", "user.disabled", "user.enabled", "user.deleted", "password.changed", "auth_method.removed",
  "service_account.", "service_account.created", "service_account.revoked"];

/** A datetime-local value (the browser's time zone) as an ISO 8601 instant, or "". */
function instant(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export async function renderAudit(main, ctx) {
  ctx.setTitle(t("console.audit_title"));
  const given = new URLSearchParams(ctx.params[0] || "");
  const user = h("input", { type: "text", id: "audit-user", name: "user", value: given.get("user") || "", autocomplete: "off" });
  const type = h("input", { type: "text", id: "audit-type", name: "type", list: "audit-types", autocomplete: "off", value: given.get("type") || "" });
  const types = h("datalist", { id: "audit-types" }, EVENT_TYPES.map((value) => h("option", { value })));
  const since = h("input", { type: "datetime-local", id: "audit-since", name: "since" });
  const until = h("input", { type: "datetime-local", id: "audit-until", name: "until" });
  const body = h("tbody", { id: "audit-rows" });
  const status = h("p", { class: "count", id: "audit-status", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "button", id: "audit-previous", text: t("console.previous_page") });
  const next = h("button", { type: "button", class: "button", id: "audit-next", text: t("console.next_page") });
  // Where each page seen starts, for "previous": {} for the first, then {cursor} of the page before.
  let pages = [{}];
  let nextPage = null;

  function details(data) {
    return Object.entries(data).filter(([key]) => key !== "user_id" && key !== "by")
      .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`).join(" · ");
  }

  function userCell(id) {
    return id ? h("a", { href: `#/console/users/${encodeURIComponent(id)}`, text: id }) : "–";
  }

  let run = 0; // only the newest filter shows: an older answer arriving late is dropped
  async function load() {
    const mine = ++run;
    try {
      const page = await admin.audit({ ...pages.at(-1), limit: 50, user: user.value.trim(), type: type.value.trim(),
        since: instant(since.value), until: instant(until.value) });
      if (ctx.signal.aborted || mine !== run) return;
      const events = listOf(page);
      nextPage = page.next_cursor ? { cursor: page.next_cursor } : null;
      fill(body, events.map((e) => h("tr", { dataset: { seq: String(e.seq), type: e.type } },
        h("td", { text: String(e.seq) }), h("td", { text: dateTime(e.created_at) }), h("th", { scope: "row", text: e.type }),
        h("td", {}, userCell(e.data.user_id)), h("td", {}, userCell(e.data.by)), h("td", { class: "details", text: details(e.data) }))));
      if (!events.length) fill(body, h("tr", {}, h("td", { colspan: "6", class: "empty", text: t("console.no_events") })));
      status.textContent = t("console.audit_page", { page: pages.length, count: events.length });
      previous.disabled = pages.length < 2;
      next.disabled = nextPage === null;
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  const form = h("form", { class: "toolbar audit-filters", role: "search" },
    field(t("console.audit_user"), user, t("console.audit_user_hint")).field,
    field(t("console.audit_type"), type, t("console.audit_type_hint")).field, types,
    field(t("console.audit_since"), since).field, field(t("console.audit_until"), until).field,
    h("button", { type: "submit", class: "button primary", id: "audit-apply", text: t("console.apply") }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    pages = [{}];
    load();
  });
  next.addEventListener("click", () => {
    if (nextPage === null) return;
    pages.push(nextPage);
    load();
  });
  previous.addEventListener("click", () => {
    if (pages.length > 1) pages.pop();
    load();
  });
  fill(main, consoleNav(app.user, "audit"), h("h1", { tabindex: "-1", text: t("console.audit_title") }), form, status,
    dataTable([t("console.col_seq"), t("console.col_time"), t("console.col_action"), t("console.col_user"),
      t("console.col_by"), t("console.col_details")], body, { class: "console-table audit-table" }),
    h("div", { class: "actions" }, previous, next));
  await load();
}
