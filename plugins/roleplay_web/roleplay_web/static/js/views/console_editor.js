// Console: one script's editor. The script as YAML or JSON text with the lint findings next to
// the lines they point at, a form for the common fields that stays in sync with the text, saving
// with If-Match (a 412 opens the conflict view), publish, archive, export, a preview panel that
// plays the saved draft, and the script's translation group.

import { ApiError, listOf, scripts } from "../api.js";
import { app } from "../app.js";
import { append, clear, field, fill, h, uid } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { changeList, consoleNav, problemText, saveResponse, statusText } from "../console.js";
import { lineOf, locate, write } from "../scripttext.js";

/** Where a new script starts: the fields every script needs, each with a placeholder to replace. */
const SKELETON = {
  id: "my-new-script",
  language: "en",
  translation_group: "my-new-script",
  title: "My new script",
  summary: "",
  learner_role: "",
  setting: "",
  objectives: [],
  characters: [{ id: "character", name: "Character", persona: "", opening_line: "", speaks_first: false }],
  scripted: { beats: [{ id: "greeting", triggers: ["hello"], replies: ["Hello."] }], fallbacks: [{ replies: ["Sorry?"] }] },
  rubric: { criteria: [{ id: "listened", title: "Listened", check: { kind: "model", good_looks_like: "" } }] },
};

// A message for the next render of the editor (after "Save" of a new script moves to its address).
let flash = "";

/** Ask before doing something that cannot be undone: a question with Yes and Cancel, in the page. */
export function confirmStep(anchor, question, yesText, action) {
  const yes = h("button", { type: "button", class: "button danger", text: yesText });
  const no = h("button", { type: "button", class: "button", text: t("console.cancel") });
  const box = h("div", { class: "confirm", role: "group", "aria-label": question },
    h("p", { text: question }), h("div", { class: "actions" }, yes, no));
  const close = () => {
    box.remove();
    anchor.disabled = false;
    anchor.focus();
  };
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    box.remove();
    anchor.disabled = false;
    await action();
  });
  no.addEventListener("click", close);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  anchor.disabled = true;
  anchor.after(box);
  yes.focus();
}

function setAt(data, path, value) {
  let target = data;
  for (const part of path.slice(0, -1)) target = target[part];
  target[path.at(-1)] = value;
}

function getAt(data, path) {
  return path.reduce((value, part) => (value == null ? undefined : value[part]), data);
}

const lines = (value) => (Array.isArray(value) ? value.join("\n") : "");
const unlines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

export async function renderScriptEditor(main, ctx) {
  const [scriptId] = ctx.params;
  const isNew = scriptId === undefined;
  let detail = isNew ? null : await scripts.get(scriptId);
  if (ctx.signal.aborted) return;
  ctx.setTitle(isNew ? t("console.new_script") : t("console.editing", { title: detail.title }));

  let format = "yaml";
  let data = isNew ? structuredClone(SKELETON) : detail.script;
  let dataText = null; // the text `data` was read from (null: data is the source, text follows it)
  let etag = detail?.etag || null;
  let dirty = false;
  let findings = [];
  let checkTimer = null;
  let checkRun = 0;

  // -- the text and its gutter -------------------------------------------------------------
  const textarea = h("textarea", { id: "script-text", class: "code", spellcheck: "false", wrap: "off",
    autocomplete: "off", "aria-describedby": "findings-summary" });
  textarea.setAttribute("autocapitalize", "off");
  const gutter = h("div", { class: "gutter", id: "gutter", "aria-hidden": "true" });
  const textLabel = h("label", { for: "script-text", class: "visually-hidden", text: t("console.script_text") });
  const formatSelect = h("select", { id: "script-format" },
    h("option", { value: "yaml", text: "YAML" }), h("option", { value: "json", text: "JSON" }));
  const textTab = h("button", { type: "button", class: "mode", id: "tab-text", "aria-pressed": "true", text: t("console.tab_text") });
  const formTab = h("button", { type: "button", class: "mode", id: "tab-form", "aria-pressed": "false", text: t("console.tab_form") });
  const textPane = h("div", { class: "text-pane", id: "text-pane" }, textLabel, h("div", { class: "code-editor" }, gutter, textarea));
  const formPane = h("div", { class: "form-pane", id: "form-pane", hidden: true });
  const summary = h("p", { id: "findings-summary", class: "findings-summary", role: "status" });
  const findingList = h("ul", { class: "findings", id: "findings" });
  const status = h("p", { class: "status-line", id: "editor-status", role: "status", text: flash });
  flash = "";
  const conflict = h("section", { class: "card conflict", id: "conflict", hidden: true, "aria-labelledby": "conflict-title" });

  function setText(text) {
    textarea.value = text;
    drawGutter();
  }

  function drawGutter() {
    const count = textarea.value.split("\n").length;
    const located = locate(textarea.value, format);
    const byLine = new Map();
    for (const f of findings) {
      const line = f.fixedLine || lineOf(located, f.path);
      f.line = line;
      byLine.set(line, [...(byLine.get(line) || []), f]);
    }
    fill(gutter, Array.from({ length: count }, (_, i) => {
      const here = byLine.get(i + 1) || [];
      const worst = here.some((f) => f.severity === "error") ? "error" : here.length ? "warning" : "";
      return h("div", { class: worst ? `line flag-${worst}` : "line", title: here.map((f) => f.message).join("\n") || false,
        dataset: { line: String(i + 1) } }, String(i + 1));
    }));
    gutter.scrollTop = textarea.scrollTop;
  }

  function goToLine(line) {
    showTab("text");
    const starts = textarea.value.split("\n");
    const start = starts.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
    textarea.focus();
    textarea.setSelectionRange(start, start + (starts[line - 1] || "").length);
    const lineHeight = textarea.scrollHeight / Math.max(1, starts.length);
    textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  function showFindings(found) {
    findings = found.map((f) => ({ ...f }));
    drawGutter();
    const errors = findings.filter((f) => f.severity === "error").length;
    summary.textContent = findings.length
      ? t("console.findings_summary", { errors, warnings: findings.length - errors })
      : t("console.no_findings");
    fill(findingList, findings.sort((a, b) => a.line - b.line).map((f) => {
      const go = h("button", { type: "button", class: "link-button", text: t("console.line", { line: f.line }) });
      go.addEventListener("click", () => goToLine(f.line));
      return h("li", { class: `finding finding-${f.severity}`, dataset: { line: String(f.line), code: f.code || "" } },
        go, " ", h("span", { class: `badge badge-${f.severity}`, text: f.severity === "error" ? t("console.error") : t("console.warning") }),
        " ", h("code", { text: f.path }), " ", h("span", { text: f.message }));
    }));
  }

  /** Lint the text as it is now (POST /scripts/validate); the server's reading becomes `data`. */
  async function check() {
    clearTimeout(checkTimer);
    const run = ++checkRun;
    const text = textarea.value;
    try {
      const result = await scripts.validate(text, format);
      // A newer check is coming when the text changed meanwhile: this answer is about old text.
      if (run !== checkRun || ctx.signal.aborted || textarea.value !== text) return false;
      const item = listOf(result, "scripts")[0];
      if (item?.script) {
        data = item.script;
        dataText = text;
      }
      showFindings(result.findings || []);
      return Boolean(item?.script);
    } catch (error) {
      if (run !== checkRun || ctx.signal.aborted || textarea.value !== text) return false;
      // Unreadable text (400: the YAML or JSON error, with its line) or a refused body.
      const fieldErrors = error.fieldErrors || [];
      const line = Number(/line (\d+)/.exec(error.message)?.[1]) || 1;
      showFindings(fieldErrors.length
        ? fieldErrors.map((e) => ({ path: e.field, message: e.message, severity: "error", code: "invalid" }))
        : [{ path: "$", message: error.message, severity: "error", code: "unreadable", fixedLine: line }]);
      return false;
    }
  }

  function scheduleCheck() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 700);
  }

  textarea.addEventListener("input", () => {
    dirty = true;
    dataText = "";
    drawGutter();
    scheduleCheck();
  });
  textarea.addEventListener("scroll", () => {
    gutter.scrollTop = textarea.scrollTop;
  });

  /** The text and `data` agree (checking the text first when it changed); false when it cannot be read. */
  async function inSync() {
    if (dataText === null || dataText === textarea.value) return true;
    return check();
  }

  formatSelect.addEventListener("change", async () => {
    const wanted = formatSelect.value;
    if (!(await inSync())) {
      formatSelect.value = format;
      status.textContent = t("console.fix_text_first");
      return;
    }
    format = wanted;
    setText(write(data, format));
    dataText = null;
    await check();
  });

  // -- the form ------------------------------------------------------------------------------
  function onFormChange() {
    dirty = true;
    setText(write(data, format));
    dataText = null;
    scheduleCheck();
  }

  function input(label, path, options = {}) {
    const value = getAt(data, path);
    const el = options.multiline || options.lines
      ? h("textarea", { rows: options.rows || 3, value: options.lines ? lines(value) : value ?? "" })
      : h("input", { type: options.type || "text", value: value ?? "" });
    if (options.type === "checkbox") {
      el.checked = Boolean(value);
      el.addEventListener("change", () => {
        setAt(data, path, el.checked);
        onFormChange();
      });
      return h("label", { class: "choice" }, el, label);
    }
    el.name = path.join(".");
    el.addEventListener("input", () => {
      let next = el.value;
      if (options.lines) next = unlines(el.value);
      else if (options.type === "number") next = el.value === "" ? null : Number(el.value);
      else if (options.nullable && !next.trim()) next = null;
      setAt(data, path, next);
      onFormChange();
    });
    return field(label, el, options.hint || "").field;
  }

  function listSection(title, path, make, empty, addText) {
    const items = getAt(data, path) || [];
    const add = h("button", { type: "button", class: "button", text: addText });
    add.addEventListener("click", () => {
      const list = getAt(data, path) || [];
      list.push(empty(list.length));
      setAt(data, path, list);
      onFormChange();
      drawForm();
    });
    return h("fieldset", { class: "form-group" }, h("legend", { text: title }),
      items.map((item, i) => {
        const remove = h("button", { type: "button", class: "link-button", text: t("console.remove"),
          "aria-label": t("console.remove_item", { what: title, n: i + 1 }) });
        remove.addEventListener("click", () => {
          getAt(data, path).splice(i, 1);
          onFormChange();
          drawForm();
        });
        return h("div", { class: "form-item" }, make(i), remove);
      }), add);
  }

  function drawForm() {
    const fields = [
      input(t("console.f_id"), ["id"]),
      input(t("console.f_title"), ["title"]),
      input(t("console.f_language"), ["language"]),
      input(t("console.f_group"), ["translation_group"], { nullable: true }),
      input(t("console.f_summary"), ["summary"], { multiline: true }),
      input(t("console.f_learner_role"), ["learner_role"]),
      input(t("console.f_setting"), ["setting"], { multiline: true }),
      input(t("console.f_objectives"), ["objectives"], { lines: true, hint: t("console.one_per_line") }),
    ];
    if (!data.scripted) data.scripted = {};
    if (!data.rubric) data.rubric = {};
    const characters = listSection(t("console.f_characters"), ["characters"], (i) => [
      input(t("console.f_id"), ["characters", i, "id"]),
      input(t("console.f_name"), ["characters", i, "name"]),
      input(t("console.f_persona"), ["characters", i, "persona"], { multiline: true }),
      input(t("console.f_opening_line"), ["characters", i, "opening_line"]),
      input(t("console.f_speaks_first"), ["characters", i, "speaks_first"], { type: "checkbox" }),
    ], (n) => ({ id: `character-${n + 1}`, name: t("console.new_character") }), t("console.add_character"));
    const beats = listSection(t("console.f_beats"), ["scripted", "beats"], (i) => [
      input(t("console.f_id"), ["scripted", "beats", i, "id"]),
      input(t("console.f_triggers"), ["scripted", "beats", i, "triggers"], { lines: true, hint: t("console.one_per_line") }),
      input(t("console.f_replies"), ["scripted", "beats", i, "replies"], { lines: true, hint: t("console.one_per_line") }),
      input(t("console.f_requires"), ["scripted", "beats", i, "requires"], { lines: true, hint: t("console.one_per_line") }),
      input(t("console.f_mood_effect"), ["scripted", "beats", i, "mood_effect"], { type: "number" }),
    ], (n) => ({ id: `beat-${n + 1}`, triggers: [], replies: [] }), t("console.add_beat"));
    const criteria = listSection(t("console.f_rubric"), ["rubric", "criteria"], (i) => [
      input(t("console.f_id"), ["rubric", "criteria", i, "id"]),
      input(t("console.f_title"), ["rubric", "criteria", i, "title"]),
      input(t("console.f_good_looks_like"), ["rubric", "criteria", i, "check", "good_looks_like"], { multiline: true }),
      input(t("console.f_required"), ["rubric", "criteria", i, "required"], { type: "checkbox" }),
    ], (n) => ({ id: `criterion-${n + 1}`, title: t("console.new_criterion"), check: { kind: "model", good_looks_like: "" } }),
    t("console.add_criterion"));
    fill(formPane, h("p", { class: "hint", text: t("console.form_hint") }),
      h("fieldset", { class: "form-group" }, h("legend", { text: t("console.f_brief") }), fields), characters, beats, criteria);
  }

  async function showTab(which) {
    if (which === "form") {
      if (!(await inSync())) {
        status.textContent = t("console.fix_text_first");
        textTab.focus();
        return;
      }
      drawForm();
    }
    textPane.hidden = which !== "text";
    formPane.hidden = which !== "form";
    textTab.setAttribute("aria-pressed", which === "text" ? "true" : "false");
    formTab.setAttribute("aria-pressed", which === "form" ? "true" : "false");
    if (which === "text") drawGutter();
  }
  textTab.addEventListener("click", () => showTab("text"));
  formTab.addEventListener("click", () => showTab("form"));

  // -- save, conflict, publish, archive, export ---------------------------------------------
  const saveButton = h("button", { type: "button", class: "button primary", id: "save-script",
    text: detail?.source === "pack" ? t("console.save_copy") : t("console.save") });
  const checkButton = h("button", { type: "button", class: "button", id: "check-script", text: t("console.check") });
  const publishButton = h("button", { type: "button", class: "button", id: "publish-script", text: t("console.publish"), hidden: isNew || detail.source === "pack" });
  const archiveButton = h("button", { type: "button", class: "button", id: "archive-script", text: t("console.archive"),
    hidden: isNew || detail.source === "pack" || detail.status === "archived" });
  const exportYaml = h("button", { type: "button", class: "button", id: "export-yaml", text: t("console.export_yaml"), hidden: isNew });
  const exportJson = h("button", { type: "button", class: "button", id: "export-json", text: t("console.export_json"), hidden: isNew });
  const versionsLink = isNew || detail.source === "pack" ? null
    : h("a", { class: "button", id: "versions-link", href: `#/console/scripts/${encodeURIComponent(scriptId)}/versions`, text: t("console.versions") });
  const heading = h("h1", { tabindex: "-1", text: isNew ? t("console.new_script") : detail.title });
  const about = h("p", { class: "muted", id: "script-about" });

  function showAbout() {
    if (!detail) {
      about.textContent = t("console.not_saved_yet");
      return;
    }
    fill(about, h("span", { class: `badge badge-${detail.source === "pack" ? "pack" : detail.status}`, id: "script-status", text: statusText(detail) }),
      " ", detail.version ? t("console.version_line", { version: detail.version, when: dateTime(detail.updated_at), who: detail.updated_by || "–" })
        : t("console.pack_line"));
  }

  async function save() {
    if (!isNew && !dirty && detail.source !== "pack") {
      status.textContent = t("console.nothing_to_save");
      return;
    }
    if (checkTimer) await check();
    saveButton.disabled = true;
    status.textContent = t("console.saving");
    try {
      if (isNew) {
        const created = await scripts.create(textarea.value, format);
        flash = t("console.saved", { version: created.version });
        dirty = false;
        app.go(`#/console/scripts/${encodeURIComponent(created.id)}`);
        return;
      }
      const saved = await scripts.save(scriptId, textarea.value, format, etag);
      detail = saved;
      etag = saved.etag;
      dirty = false;
      conflict.hidden = true;
      showAbout();
      showFindings(saved.findings || []);
      status.textContent = t("console.saved", { version: saved.version });
      publishButton.hidden = false;
      archiveButton.hidden = saved.status === "archived";
      if (versionsLink === null && saved.source === "authored") {
        // A pack script became an authored copy: show it as one (versions, publish, archive).
        flash = t("console.saved", { version: saved.version });
        app.go(`#/console/scripts/${encodeURIComponent(scriptId)}`);
      }
      loadTranslations();
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) await showConflict();
      else {
        status.textContent = problemText(error);
        if (error.fieldErrors?.length) {
          showFindings(error.fieldErrors.map((e) => ({ path: e.field, message: e.message, severity: "error", code: "invalid" })));
        }
      }
    } finally {
      saveButton.disabled = false;
    }
  }

  /** 412: someone saved meanwhile. Show what they changed; reload theirs or keep editing mine. */
  async function showConflict() {
    const current = await scripts.get(scriptId);
    const mine = detail.version;
    status.textContent = t("console.conflict_status", { version: current.version });
    const title = h("h2", { id: "conflict-title", tabindex: "-1", text: t("console.conflict_title") });
    const changes = h("div", { class: "diff" });
    if (mine && current.version && current.version !== mine) {
      try {
        const diff = await scripts.diff(scriptId, mine, current.version);
        append(changes, changeList(diff.changes), h("details", {}, h("summary", { text: t("console.unified_diff") }),
          h("pre", { class: "code unified", text: diff.unified })));
      } catch (failed) {
        append(changes, h("p", { text: problemText(failed) }));
      }
    }
    const reload = h("button", { type: "button", class: "button", id: "conflict-reload", text: t("console.conflict_reload") });
    const keep = h("button", { type: "button", class: "button primary", id: "conflict-keep", text: t("console.conflict_keep") });
    reload.addEventListener("click", async () => {
      detail = current;
      etag = current.etag;
      data = current.script;
      dataText = null;
      dirty = false;
      setText(write(data, format));
      conflict.hidden = true;
      showAbout();
      status.textContent = t("console.reloaded", { version: current.version });
      await check();
      textarea.focus();
    });
    keep.addEventListener("click", () => {
      // The author has seen the other save: the next save replaces it.
      etag = current.etag;
      detail = { ...detail, version: current.version };
      conflict.hidden = true;
      status.textContent = t("console.conflict_kept", { version: current.version });
      textarea.focus();
    });
    fill(conflict, title,
      h("p", { text: t("console.conflict_text", { mine: mine ?? "–", version: current.version ?? "–",
        who: current.updated_by || "–", when: dateTime(current.updated_at) }) }),
      changes, h("div", { class: "actions" }, keep, reload));
    conflict.hidden = false;
    title.focus();
  }

  async function publish() {
    if (dirty) {
      status.textContent = t("console.save_before_publish");
      return;
    }
    publishButton.disabled = true;
    try {
      const published = await scripts.publish(scriptId, etag);
      detail = published;
      etag = published.etag;
      showAbout();
      showFindings(published.findings || []);
      status.textContent = t("console.published", { version: published.published_version });
      archiveButton.hidden = false;
      loadTranslations();
    } catch (error) {
      if (Array.isArray(error.problem?.findings)) showFindings(error.problem.findings);
      status.textContent = error.status === 412 ? t("console.conflict_status", { version: error.problem.current_version ?? "–" })
        : t("console.not_published", { reason: error.message });
    } finally {
      publishButton.disabled = false;
    }
  }

  function archive() {
    confirmStep(archiveButton, t("console.archive_question"), t("console.archive_yes"), async () => {
      try {
        detail = await scripts.archive(scriptId, etag);
        etag = detail.etag;
        showAbout();
        archiveButton.hidden = true;
        status.textContent = t("console.archived");
        loadTranslations();
      } catch (error) {
        status.textContent = problemText(error);
      }
    });
  }

  async function download(button, kind) {
    button.disabled = true;
    try {
      status.textContent = t("console.downloaded", { name: await saveResponse(await scripts.exportOne(scriptId, kind), `${scriptId}.${kind}`) });
    } catch (error) {
      status.textContent = problemText(error);
    }
    button.disabled = false;
  }

  saveButton.addEventListener("click", save);
  checkButton.addEventListener("click", async () => {
    await check();
    status.textContent = t("console.checked");
  });
  publishButton.addEventListener("click", publish);
  archiveButton.addEventListener("click", archive);
  exportYaml.addEventListener("click", () => download(exportYaml, "yaml"));
  exportJson.addEventListener("click", () => download(exportJson, "json"));

  // -- preview: plays the saved draft -------------------------------------------------------
  const previewTurns = h("ol", { class: "preview-turns", id: "preview-turns", "aria-live": "polite" });
  const previewInput = h("textarea", { id: "preview-input", rows: 2 });
  const previewSend = h("button", { type: "button", class: "button primary", id: "preview-send", text: t("console.preview_send") });
  const previewReset = h("button", { type: "button", class: "button", id: "preview-reset", text: t("console.preview_reset") });
  const previewStatus = h("p", { class: "status-line", id: "preview-status", role: "status" });
  const previewEngine = h("select", { id: "preview-engine" },
    h("option", { value: "scripted", text: t("console.engine_scripted") }),
    h("option", { value: "configured", text: t("console.engine_configured") }));
  previewEngine.addEventListener("change", () => previewReset.click()); // another engine, another conversation
  let sent = [];

  function turnItem(turn, n) {
    return h("li", { class: "preview-turn", dataset: { turn: String(n) } },
      h("p", { class: "message learner" }, h("span", { class: "speaker", text: t("console.preview_you") }), h("span", { class: "text", text: turn.learner })),
      h("p", { class: "message character" }, h("span", { class: "speaker", text: t("console.preview_character") }), h("span", { class: "text", text: turn.reply })),
      h("p", { class: "turn-meta muted" },
        h("span", { class: "turn-beats", text: t("console.preview_beats", { beats: turn.beats?.length ? turn.beats.join(", ") : "–" }) }),
        " · ", h("span", { class: "turn-mood", text: t("console.preview_mood", { mood: String(turn.mood ?? "–") }) }),
        turn.fallback ? ` · ${t("console.preview_fallback")}` : "",
        turn.ended ? ` · ${t("console.preview_ended", { reason: turn.end_reason || "–" })}` : ""));
  }

  async function previewSendMessage() {
    const text = previewInput.value.trim();
    if (!text) {
      previewInput.focus();
      return;
    }
    previewSend.disabled = true;
    previewStatus.textContent = t("console.preview_playing");
    try {
      const result = await scripts.preview(scriptId, [...sent, text], previewEngine.value);
      sent = [...sent, text];
      previewInput.value = "";
      fill(previewTurns, result.opening_line
        ? h("li", { class: "preview-opening" }, h("p", { class: "message character" },
          h("span", { class: "speaker", text: t("console.preview_character") }), h("span", { class: "text", text: result.opening_line })))
        : null, result.turns.map(turnItem));
      previewStatus.textContent = t("console.preview_done", { version: result.version ?? t("console.status_pack"), count: result.turns.length })
        + ` ${t("console.preview_played_by", { engine: result.engine || "scripted" })}`
        + (result.ended ? ` ${t("console.preview_ended", { reason: result.end_reason || "–" })}` : "");
    } catch (error) {
      previewStatus.textContent = problemText(error);
    } finally {
      previewSend.disabled = false;
      previewInput.focus();
    }
  }
  previewSend.addEventListener("click", previewSendMessage);
  previewInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      previewSendMessage();
    }
  });
  previewReset.addEventListener("click", () => {
    sent = [];
    clear(previewTurns);
    previewStatus.textContent = "";
  });
  const previewLabel = h("label", { for: "preview-input", text: t("console.preview_message") });
  const preview = h("section", { class: "card preview", id: "preview", "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title", text: t("console.preview_title") }),
    h("p", { class: "hint", text: isNew ? t("console.preview_save_first") : t("console.preview_hint") }),
    isNew ? null : field(t("console.preview_engine"), previewEngine).field,
    previewTurns, isNew ? null : h("div", { class: "preview-composer" }, previewLabel, previewInput,
      h("div", { class: "actions" }, previewSend, previewReset)), previewStatus);

  // -- the translation group ----------------------------------------------------------------
  const translations = h("section", { class: "card translations", id: "translations", "aria-labelledby": "translations-title", hidden: isNew },
    h("h2", { id: "translations-title", text: t("console.translations_title") }));

  async function loadTranslations() {
    if (isNew) return;
    try {
      const group = await scripts.translations(scriptId);
      if (ctx.signal.aborted) return;
      fill(translations, h("h2", { id: "translations-title", text: t("console.translations_title") }),
        h("p", { class: "muted", text: group.translation_group ? t("console.group_line", { group: group.translation_group })
          : t("console.no_group") }),
        group.missing_languages.length ? h("p", { class: "missing-languages", text: t("console.missing_languages", { languages: group.missing_languages.join(", ") }) }) : null,
        h("ul", { class: "translation-list" }, group.members.map((m) => h("li", { dataset: { language: m.language } },
          m.id === scriptId ? h("strong", { text: `${m.language} · ${m.title}` })
            : h("a", { href: `#/console/scripts/${encodeURIComponent(m.id)}`, text: `${m.language} · ${m.title}` }),
          " ", h("span", { class: "muted", text: statusText(m) }),
          m.findings.length ? h("ul", { class: "lacks" }, m.findings.map((f) => h("li", { text: f.message })))
            : h("p", { class: "muted", text: t("console.nothing_missing") })))));
    } catch (error) {
      append(translations, h("p", { text: problemText(error) }));
    }
  }

  // Closing or reloading the tab with unsaved edits asks first (the browser's own question).
  const guard = (event) => {
    if (!dirty) return;
    event.preventDefault();
    event.returnValue = "";
  };
  window.addEventListener("beforeunload", guard);
  ctx.signal.addEventListener("abort", () => window.removeEventListener("beforeunload", guard));

  // -- on screen -----------------------------------------------------------------------------
  const idNote = uid("fmt");
  fill(main, consoleNav(app.user, "scripts"),
    h("p", { class: "back" }, h("a", { href: "#/console/scripts", text: t("console.back_to_scripts") })),
    heading, about,
    h("div", { class: "actions editor-actions" }, saveButton, checkButton, publishButton, archiveButton, versionsLink, exportYaml, exportJson),
    status, conflict,
    h("div", { class: "editor-layout" },
      h("section", { class: "editor-main", "aria-label": t("console.editor_label") },
        h("div", { class: "editor-bar" },
          h("div", { class: "modes", role: "group", "aria-label": t("console.view_label") }, textTab, formTab),
          h("span", { class: "format" }, h("label", { for: "script-format", id: idNote, text: t("console.format") }), formatSelect)),
        textPane, formPane,
        h("section", { class: "findings-box", "aria-labelledby": "findings-title" },
          h("h2", { id: "findings-title", text: t("console.findings_title") }), summary, findingList)),
      h("aside", { class: "editor-side" }, preview, translations)));
  showAbout();
  setText(write(data, format));
  await check();
  loadTranslations();
}
