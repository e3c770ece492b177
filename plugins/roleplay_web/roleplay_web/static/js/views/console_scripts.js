// Console: the scripts list (search and filters) and import, export and backup.

import { listOf, scripts } from "../api.js";
import { app } from "../app.js";
import { append, field, fill, h } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { consoleNav, dataTable, problemText, saveResponse, statusText } from "../console.js";

// The filters picked, kept while the page is open (back from the editor finds them again).
const picked = { text: "", status: "", source: "", language: "" };

function row(s) {
  return h("tr", { dataset: { scriptId: s.id } },
    h("th", { scope: "row" }, h("a", { href: `#/console/scripts/${encodeURIComponent(s.id)}`, text: s.title }),
      h("span", { class: "muted script-id", text: s.id })),
    h("td", {}, h("span", { class: `badge badge-${s.source === "pack" ? "pack" : s.status}`, text: statusText(s) })),
    h("td", { text: s.language }),
    h("td", { text: s.translation_group || "–" }),
    h("td", { text: s.updated_at ? dateTime(s.updated_at) : "–" }),
    h("td", { text: s.updated_by || "–" }));
}

export async function renderConsoleScripts(main, ctx) {
  ctx.setTitle(t("console.scripts_title"));
  const search = h("input", { type: "search", id: "script-search", name: "text", value: picked.text, autocomplete: "off" });
  const status = h("select", { id: "script-status", name: "status" },
    [["", t("console.any_status")], ["draft", t("console.status_draft")], ["published", t("console.status_published")],
      ["archived", t("console.status_archived")]].map(([value, text]) => h("option", { value, text, selected: value === picked.status })));
  const source = h("select", { id: "script-source", name: "source" },
    [["", t("console.any_source")], ["authored", t("console.source_authored")], ["pack", t("console.status_pack")]]
      .map(([value, text]) => h("option", { value, text, selected: value === picked.source })));
  const lang = h("input", { type: "text", id: "script-language", name: "language", value: picked.language, size: 8, autocomplete: "off" });
  const count = h("p", { class: "count", "aria-live": "polite" });
  const body = h("tbody", { id: "script-rows" });
  const table = dataTable([t("console.col_title"), t("console.col_status"), t("console.col_language"),
    t("console.col_group"), t("console.col_changed"), t("console.col_author")], body, { "aria-label": t("console.scripts_title") });

  const more = h("button", { type: "button", class: "button", id: "scripts-more", text: t("console.more"), hidden: true });
  let cursor = null; // when the list answers in pages ({items, next_cursor})
  let shown = 0;
  let run = 0; // only the newest search shows: an older answer arriving late is dropped
  async function load(next = false) {
    if (!next) Object.assign(picked, { text: search.value.trim(), status: status.value, source: source.value, language: lang.value.trim() });
    const mine = ++run;
    try {
      const answer = await scripts.list({ ...picked, limit: 500, cursor: next ? cursor : undefined });
      if (ctx.signal.aborted || mine !== run) return;
      const rows = listOf(answer);
      cursor = answer.next_cursor || null;
      shown = next ? shown + rows.length : rows.length;
      count.textContent = t("console.script_count", { count: answer.total ?? shown });
      if (next) append(body, rows.map(row));
      else fill(body, rows.map(row));
      if (!shown) append(body, h("tr", {}, h("td", { colspan: "6", class: "empty", text: t("console.no_scripts") })));
      more.hidden = !cursor;
    } catch (error) {
      count.textContent = problemText(error);
    }
  }
  more.addEventListener("click", () => load(true));

  const form = h("form", { class: "toolbar console-filters", role: "search" },
    field(t("console.search"), search).field, field(t("console.col_status"), status).field,
    field(t("console.col_source"), source).field, field(t("console.col_language"), lang).field,
    h("button", { type: "submit", class: "button", text: t("console.apply") }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  for (const select of [status, source]) select.addEventListener("change", load);

  fill(main, consoleNav(app.user, "scripts"),
    h("div", { class: "console-head" }, h("h1", { tabindex: "-1", text: t("console.scripts_title") }),
      h("a", { class: "button primary", href: "#/console/new-script", id: "new-script", text: t("console.new_script") })),
    form, count, table, more);
  await load();
}

// -- import, export, backup ----------------------------------------------------------------

/** The Character Card V2 JSON inside a PNG: the tEXt chunk "chara" holds it, base64-encoded. */
export function cardFromPng(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (!signature.every((b, i) => bytes[i] === b)) throw new Error(t("console.not_png"));
  let at = 8;
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.slice(at + 4, at + 8));
    const data = bytes.slice(at + 8, at + 8 + length);
    if (type === "tEXt") {
      const nul = data.indexOf(0);
      const keyword = String.fromCharCode(...data.slice(0, nul));
      if (keyword.toLowerCase() === "chara") {
        const base64 = new TextDecoder("latin1").decode(data.slice(nul + 1));
        const binary = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        return JSON.parse(new TextDecoder().decode(binary));
      }
    }
    if (type === "IEND") break;
    at += 12 + length;
  }
  throw new Error(t("console.no_card_in_png"));
}

function formatOf(name, text) {
  if (/\.json$/i.test(name)) return "json";
  if (/\.ya?ml$/i.test(name)) return "yaml";
  return /^\s*[[{]/.test(text) ? "json" : "yaml";
}

function resultsTable(items) {
  return dataTable([t("console.col_item"), t("console.col_id"), t("console.col_result")],
    h("tbody", {}, items.map((item) => h("tr", { class: item.ok === false ? "failed" : "ok" },
      h("td", { text: String(item.index ?? "") }), h("td", { text: item.id || "–" }),
      h("td", { text: item.ok === false
        ? (item.errors || []).map((e) => `${e.field}: ${e.message}`).join("; ") || t("console.failed")
        : t("console.imported_as", { version: item.version ?? "–", status: item.status || "" }) })))), { id: "import-results" });
}

export async function renderConsoleImport(main, ctx) {
  ctx.setTitle(t("console.import_title"));
  const file = h("input", { type: "file", id: "import-file", accept: ".yaml,.yml,.json,.png" });
  const text = h("textarea", { id: "import-text", rows: 8, spellcheck: "false", class: "code" });
  const kind = h("select", { id: "import-kind" },
    h("option", { value: "scripts", text: t("console.import_scripts") }),
    h("option", { value: "card", text: t("console.import_card") }));
  const target = h("input", { type: "text", id: "import-target", autocomplete: "off" });
  const targetField = field(t("console.card_target"), target, t("console.card_target_hint"));
  targetField.field.hidden = true;
  const conflict = h("select", { id: "import-conflict" },
    h("option", { value: "new_version", text: t("console.on_conflict_new_version") }),
    h("option", { value: "fail", text: t("console.on_conflict_fail") }));
  const publish = h("input", { type: "checkbox", id: "import-publish" });
  const status = h("p", { class: "status-line", id: "import-status", role: "status" });
  const results = h("div", { id: "import-output" });
  let card = null; // a card read from a PNG file

  kind.addEventListener("change", () => {
    targetField.field.hidden = kind.value !== "card";
  });
  file.addEventListener("change", async () => {
    const chosen = file.files?.[0];
    card = null;
    if (!chosen) return;
    try {
      if (/\.png$/i.test(chosen.name) || chosen.type === "image/png") {
        card = cardFromPng(await chosen.arrayBuffer());
        kind.value = "card";
        text.value = JSON.stringify(card, null, 2);
      } else {
        text.value = await chosen.text();
        if (/"chara_card_v2"/.test(text.value)) kind.value = "card";
      }
      targetField.field.hidden = kind.value !== "card";
      status.textContent = t("console.file_read", { name: chosen.name });
    } catch (error) {
      status.textContent = error.message;
    }
  });

  async function run() {
    fill(results);
    const body = text.value;
    if (!body.trim()) {
      status.textContent = t("console.nothing_to_import");
      return;
    }
    status.textContent = t("console.importing");
    try {
      if (kind.value === "card") {
        const id = target.value.trim();
        if (!id) {
          status.textContent = t("console.card_needs_target");
          target.focus();
          return;
        }
        const current = await scripts.get(id);
        const answer = await scripts.importCard(id, JSON.parse(body), current.etag);
        status.textContent = t("console.card_imported", { character: answer.character_id, id, version: answer.version });
      } else {
        const answer = await scripts.importBundle(body, formatOf(file.files?.[0]?.name || "", body),
          { on_conflict: conflict.value, publish: publish.checked ? "true" : "" });
        status.textContent = t("console.imported", { count: answer.imported });
        append(results, resultsTable(listOf(answer, "scripts").map((s) => ({ ...s, ok: true }))));
      }
    } catch (error) {
      status.textContent = problemText(error);
      const items = listOf(error.problem); // the 422 lists each item with its errors
      if (items.length) append(results, resultsTable(items));
    }
  }

  async function download(button, fetcher, fallback) {
    button.disabled = true;
    try {
      status.textContent = t("console.downloaded", { name: await saveResponse(await fetcher(), fallback) });
    } catch (error) {
      status.textContent = problemText(error);
    }
    button.disabled = false;
  }

  const importButton = h("button", { type: "button", class: "button primary", id: "import-run", text: t("console.import_run") });
  importButton.addEventListener("click", run);
  const backupYaml = h("button", { type: "button", class: "button", id: "backup-yaml", text: t("console.backup_yaml") });
  backupYaml.addEventListener("click", () => download(backupYaml, () => scripts.backup("yaml"), "roleplay-scripts.yaml"));
  const backupJson = h("button", { type: "button", class: "button", id: "backup-json", text: t("console.backup_json") });
  backupJson.addEventListener("click", () => download(backupJson, () => scripts.backup("json"), "roleplay-scripts.json"));

  fill(main, consoleNav(app.user, "import"), h("h1", { tabindex: "-1", text: t("console.import_title") }),
    h("section", { class: "card console-section" }, h("h2", { text: t("console.import_heading") }),
      h("p", { class: "hint", text: t("console.import_hint") }),
      field(t("console.import_file"), file).field, field(t("console.import_kind"), kind).field, targetField.field,
      field(t("console.import_text"), text).field,
      h("div", { class: "toolbar" }, field(t("console.on_conflict"), conflict).field,
        h("label", { class: "choice" }, publish, t("console.publish_on_import"))),
      h("div", { class: "actions" }, importButton), status, results),
    h("section", { class: "card console-section" }, h("h2", { text: t("console.backup_heading") }),
      h("p", { class: "hint", text: t("console.backup_hint") }), h("div", { class: "actions" }, backupYaml, backupJson)));
}
