// Console: a script's versions, and the diff between any two of them.

import { listOf, scripts } from "../api.js";
import { app } from "../app.js";
import { fill, h } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { changeList, consoleNav, dataTable, problemText } from "../console.js";

export async function renderScriptVersions(main, ctx) {
  const [scriptId] = ctx.params;
  const [detail, history] = await Promise.all([scripts.get(scriptId), scripts.versions(scriptId)]);
  if (ctx.signal.aborted) return;
  ctx.setTitle(t("console.versions_title", { title: detail.title }));
  const versions = listOf(history);
  const option = (v, selected) => h("option", { value: String(v.version), selected,
    text: t("console.version_option", { version: v.version, when: dateTime(v.created_at) }) });
  const latest = versions.at(-1)?.version;
  const from = h("select", { id: "diff-from" }, versions.map((v) => option(v, v.version === Math.max(1, (latest || 1) - 1))));
  const to = h("select", { id: "diff-to" }, versions.map((v) => option(v, v.version === latest)));
  const output = h("div", { class: "diff", id: "diff-output", "aria-live": "polite" });
  const compare = h("button", { type: "submit", class: "button primary", id: "diff-run", text: t("console.compare") });

  async function run() {
    try {
      const diff = await scripts.diff(scriptId, from.value, to.value);
      fill(output, h("h2", { text: t("console.diff_title", { from: diff.from, to: diff.to }) }), changeList(diff.changes),
        h("details", {}, h("summary", { text: t("console.unified_diff") }), h("pre", { class: "code unified", text: diff.unified })));
    } catch (error) {
      fill(output, h("p", { text: problemText(error) }));
    }
  }
  const form = h("form", { class: "toolbar" },
    h("label", { for: "diff-from", text: t("console.diff_from") }), from,
    h("label", { for: "diff-to", text: t("console.diff_to") }), to, compare);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });

  const rows = versions.slice().reverse().map((v) => h("tr", { dataset: { version: String(v.version) } },
    h("th", { scope: "row", text: String(v.version) }),
    h("td", { text: dateTime(v.created_at) }), h("td", { text: v.created_by || "–" }), h("td", { text: v.note || "" }),
    h("td", { text: [v.latest ? t("console.latest") : "", v.published ? t("console.status_published") : ""].filter(Boolean).join(" · ") || "–" })));
  fill(main, consoleNav(app.user, "scripts"),
    h("p", { class: "back" }, h("a", { href: `#/console/scripts/${encodeURIComponent(scriptId)}`, text: t("console.back_to_editor") })),
    h("h1", { tabindex: "-1", text: t("console.versions_title", { title: detail.title }) }),
    dataTable([t("console.col_version"), t("console.col_changed"), t("console.col_author"), t("console.col_note"),
      t("console.col_status")], h("tbody", {}, rows), { id: "version-rows" }),
    versions.length > 1 ? form : h("p", { class: "muted", text: t("console.one_version") }), output);
  if (versions.length > 1) await run();
}
