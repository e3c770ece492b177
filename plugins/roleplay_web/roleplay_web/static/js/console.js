// The console's shared pieces: who may see which part, its sub-navigation, labels for statuses,
// downloads. The console is for scripters (scripts) and admins (scripts, users, audit log); the
// page hides it from everyone else, and the server refuses their calls whatever the page does.

import { h } from "./dom.js";
import { t } from "./i18n.js";

/** Whether `user` has `role`; admins have every role (as the server rules, docs/api/scripter.md). */
export function hasRole(user, role) {
  const roles = user?.roles || [];
  return roles.includes("admin") || roles.includes(role);
}

export const canScript = (user) => hasRole(user, "scripter");
export const canAdmin = (user) => hasRole(user, "admin");

/** The console's tabs this user may open; the one on screen is marked. */
export function consoleNav(user, active) {
  const links = [
    ["scripts", "#/console/scripts", t("console.nav_scripts"), canScript(user)],
    ["import", "#/console/import", t("console.nav_import"), canScript(user)],
    ["users", "#/console/users", t("console.nav_users"), canAdmin(user)],
    ["audit", "#/console/audit", t("console.nav_audit"), canAdmin(user)],
  ].filter(([, , , allowed]) => allowed);
  return h("nav", { class: "console-nav", "aria-label": t("console.nav_label") },
    h("ul", {}, links.map(([name, href, text]) => h("li", {},
      h("a", { href, text, dataset: { console: name }, "aria-current": name === active ? "page" : false })))));
}

/** A script status as words: draft, published, archived; "from a pack" for shipped ones. */
export function statusText(summary) {
  const words = { draft: t("console.status_draft"), published: t("console.status_published"),
    archived: t("console.status_archived") };
  const text = words[summary.status] || summary.status;
  if (summary.source === "pack") return t("console.status_pack");
  return summary.unpublished_changes ? `${text} · ${t("console.unpublished_changes")}` : text;
}

/** A response (from `raw: true`) saved as a file named by the server's Content-Disposition. */
export async function saveResponse(response, fallbackName) {
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url; // a blob: URL this page just made, not text from anyone
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

/** An error's message with its field errors ("path: message"), for a status line. */
export function problemText(error) {
  const fields = (error.fieldErrors || []).map((e) => `${e.field}: ${e.message}`);
  return [error.message, ...fields].filter(Boolean).join(" — ");
}

/** A diff's changes ({path, op, old, new}) as a list: what was added, removed or changed where. */
export function changeList(changes) {
  const shown = (value) => (value === null || value === undefined ? "–" : typeof value === "string" ? value : JSON.stringify(value));
  const ops = { added: t("console.op_added"), removed: t("console.op_removed"), changed: t("console.op_changed") };
  if (!changes.length) return h("p", { class: "muted", text: t("console.no_changes") });
  return h("ul", { class: "changes" }, changes.map((c) => h("li", { class: `change change-${c.op}` },
    h("span", { class: "badge", text: ops[c.op] || c.op }), " ", h("code", { text: c.path }),
    c.op !== "added" ? h("p", { class: "old" }, h("span", { class: "visually-hidden", text: t("console.old_value") }), shown(c.old)) : null,
    c.op !== "removed" ? h("p", { class: "new" }, h("span", { class: "visually-hidden", text: t("console.new_value") }), shown(c.new)) : null)));
}

/**
 * A table of rows filled later into `body`. Each cell gets its column's heading as `data-label`
 * (kept as rows come and go), so a phone can show every row as a card of labelled lines.
 */
export function dataTable(headers, body, props = {}) {
  const label = () => {
    for (const row of body.rows) {
      [...row.cells].forEach((cell, i) => {
        if (headers[i] && cell.colSpan === 1) cell.dataset.label = headers[i];
      });
    }
  };
  new MutationObserver(label).observe(body, { childList: true });
  label();
  return h("div", { class: "table-wrap" }, h("table", { class: "console-table", ...props },
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col", text })))), body));
}
