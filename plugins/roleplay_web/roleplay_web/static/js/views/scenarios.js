// Pick a scenario: the list (with a language filter) and one scenario's brief.

import { ApiError, chat } from "../api.js";
import { app } from "../app.js";
import { append, fill, h } from "../dom.js";
import { language, t } from "../i18n.js";

// The filter the learner picked, kept while the page is open; until they pick one, the list shows
// the scenarios in the interface's language (when there are any), following the switcher.
let pickedLanguage = null;

function languageName(tag) {
  try {
    const name = new Intl.DisplayNames([language()], { type: "language" }).of(tag);
    return name && name !== tag ? `${name} (${tag})` : tag;
  } catch {
    return tag;
  }
}

function difficulty(value) {
  if (!value) return "–";
  const key = `difficulty.${value}`;
  const text = t(key);
  return text === key ? value[0].toUpperCase() + value.slice(1) : text; // a level the catalogue does not know
}

/** The scenario language matching the interface's: exact (zh-Hant), else the same primary tag (es-MX for es). */
function learnerLanguage(languages) {
  const ui = language().toLowerCase();
  return languages.find((tag) => tag.toLowerCase() === ui)
    || languages.find((tag) => tag.toLowerCase().split("-")[0] === ui.split("-")[0] && !ui.startsWith("zh"))
    || "";
}

function meta(scenario) {
  return h("dl", { class: "meta" },
    h("div", {}, h("dt", { text: t("scenarios.difficulty") }), h("dd", { text: difficulty(scenario.difficulty) })),
    h("div", {}, h("dt", { text: t("scenarios.time") }), h("dd", { text: scenario.estimated_minutes ? t("scenarios.minutes", { count: scenario.estimated_minutes }) : "–" })),
    h("div", {}, h("dt", { text: t("scenarios.language") }), h("dd", { text: languageName(scenario.language) })));
}

export async function renderScenarios(main, ctx) {
  ctx.setTitle(t("scenarios.nav_title"));
  const all = await chat.scenarios();
  if (ctx.signal.aborted) return;
  const languages = [...new Set(all.items.map((s) => s.language))].sort();
  let chosenLanguage = pickedLanguage ?? learnerLanguage(languages);
  if (chosenLanguage && !languages.includes(chosenLanguage)) chosenLanguage = "";

  const select = h("select", { id: "language-filter", name: "language" },
    h("option", { value: "", text: t("scenarios.all_languages") }),
    languages.map((tag) => h("option", { value: tag, text: languageName(tag), selected: tag === chosenLanguage })));
  const count = h("p", { class: "count", "aria-live": "polite" });
  const list = h("ul", { class: "cards", id: "scenario-list" });

  function show(items) {
    count.textContent = t("scenarios.count", { count: items.length });
    fill(list, items.map((s) => h("li", { class: "card scenario", dataset: { scenarioId: s.id } },
      h("h2", {}, h("a", { href: `#/scenarios/${encodeURIComponent(s.id)}`, text: s.title })),
      h("p", { class: "summary", text: s.summary }),
      meta(s),
      s.tags?.length ? h("ul", { class: "tags", "aria-label": t("scenarios.tags") }, s.tags.map((t) => h("li", { text: t }))) : null,
      h("a", { class: "button", href: `#/scenarios/${encodeURIComponent(s.id)}`, "aria-label": t("scenarios.read_brief_label", { title: s.title }), text: t("scenarios.read_brief") }))));
    if (!items.length) append(list, h("li", { class: "empty", text: t("scenarios.none") }));
  }

  select.addEventListener("change", async () => {
    chosenLanguage = select.value;
    pickedLanguage = chosenLanguage;
    try {
      show((await chat.scenarios(chosenLanguage)).items);
    } catch (error) {
      app.notify(error.message);
    }
  });

  fill(main, 
    h("h1", { tabindex: "-1", text: t("scenarios.title") }),
    h("div", { class: "toolbar" }, h("label", { for: "language-filter", text: t("scenarios.language") }), select, count),
    list);
  show(chosenLanguage ? (await chat.scenarios(chosenLanguage)).items : all.items);
}

export async function renderScenario(main, ctx) {
  const [id] = ctx.params;
  const scenario = await chat.scenario(id);
  if (ctx.signal.aborted) return;
  ctx.setTitle(scenario.title);

  const characters = scenario.characters || [];
  const formError = h("p", { class: "form-error", role: "alert", hidden: true });
  const start = h("button", { type: "submit", class: "button primary", id: "start-practice", text: t("scenario.start") });
  const chooser = characters.length > 1
    ? h("fieldset", {}, h("legend", { text: t("scenario.who") }),
      characters.map((c, i) => h("label", { class: "choice" },
        h("input", { type: "radio", name: "character", value: c.id, checked: i === 0 }), ` ${c.name}`)))
    : null;
  const form = h("form", { class: "start" }, chooser, formError, start);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    formError.hidden = true;
    try {
      const body = { scenario_id: scenario.id };
      const picked = form.querySelector("input[name=character]:checked");
      if (picked) body.character_id = picked.value;
      const session = await chat.start(body);
      app.go(`#/practice/${encodeURIComponent(session.id)}`);
    } catch (error) {
      formError.textContent = error instanceof ApiError && error.status === 429
        ? `${error.message} ${t("scenario.limit")}` : error.message;
      formError.hidden = false;
      start.disabled = false;
    }
  });

  fill(main, 
    h("p", { class: "back" }, h("a", { href: "#/scenarios", text: t("scenario.back") })),
    h("article", { class: "brief" },
      h("h1", { tabindex: "-1", text: scenario.title }),
      h("p", { class: "lead", text: scenario.summary }),
      meta(scenario),
      h("section", {}, h("h2", { text: t("scenario.role") }), h("p", { id: "learner-role", text: scenario.learner_role })),
      scenario.setting ? h("section", {}, h("h2", { text: t("scenario.setting") }), h("p", { text: scenario.setting })) : null,
      scenario.objectives?.length ? h("section", {}, h("h2", { text: t("scenario.objectives") }),
        h("ol", { class: "objectives" }, scenario.objectives.map((o) => h("li", { text: o })))) : null,
      characters.length ? h("section", {}, h("h2", { text: characters.length > 1 ? t("scenario.people") : t("scenario.person") }),
        h("ul", { class: "characters" }, characters.map((c) => h("li", {},
          h("strong", { text: c.name }), c.description ? ` — ${c.description}` : "")))) : null,
      scenario.criteria?.length ? h("section", {}, h("h2", { text: t("scenario.scored_on") }),
        h("ul", { class: "criteria-brief" }, scenario.criteria.map((c) => h("li", {},
          h("strong", { text: c.title }),
          c.required ? [" ", h("span", { class: "badge badge-required", text: t("scenario.required") })] : null,
          c.description ? h("span", { class: "muted", text: ` — ${c.description}` }) : null)))) : null,
      form));
}
