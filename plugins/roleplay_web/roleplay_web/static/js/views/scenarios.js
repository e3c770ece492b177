// Pick a scenario: the list (with a language filter) and one scenario's brief.

import { ApiError, chat } from "../api.js";
import { app } from "../app.js";
import { append, fill, h } from "../dom.js";

let chosenLanguage = ""; // kept while the page is open

function languageName(tag) {
  try {
    const name = new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(tag);
    return name && name !== tag ? `${name} (${tag})` : tag;
  } catch {
    return tag;
  }
}

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

function meta(scenario) {
  return h("dl", { class: "meta" },
    h("div", {}, h("dt", { text: "Difficulty" }), h("dd", { text: capitalise(scenario.difficulty || "–") })),
    h("div", {}, h("dt", { text: "Time" }), h("dd", { text: scenario.estimated_minutes ? `about ${scenario.estimated_minutes} min` : "–" })),
    h("div", {}, h("dt", { text: "Language" }), h("dd", { text: languageName(scenario.language) })));
}

export async function renderScenarios(main, ctx) {
  ctx.setTitle("Scenarios");
  const all = await chat.scenarios();
  if (ctx.signal.aborted) return;
  const languages = [...new Set(all.items.map((s) => s.language))].sort();
  if (chosenLanguage && !languages.includes(chosenLanguage)) chosenLanguage = "";

  const select = h("select", { id: "language-filter", name: "language" },
    h("option", { value: "", text: "All languages" }),
    languages.map((tag) => h("option", { value: tag, text: languageName(tag), selected: tag === chosenLanguage })));
  const count = h("p", { class: "count", "aria-live": "polite" });
  const list = h("ul", { class: "cards", id: "scenario-list" });

  function show(items) {
    count.textContent = items.length === 1 ? "1 scenario" : `${items.length} scenarios`;
    fill(list, items.map((s) => h("li", { class: "card scenario", dataset: { scenarioId: s.id } },
      h("h2", {}, h("a", { href: `#/scenarios/${encodeURIComponent(s.id)}`, text: s.title })),
      h("p", { class: "summary", text: s.summary }),
      meta(s),
      s.tags?.length ? h("ul", { class: "tags", "aria-label": "Tags" }, s.tags.map((t) => h("li", { text: t }))) : null,
      h("a", { class: "button", href: `#/scenarios/${encodeURIComponent(s.id)}`, "aria-label": `Read the brief: ${s.title}`, text: "Read the brief" }))));
    if (!items.length) append(list, h("li", { class: "empty", text: "No scenario is published in this language yet." }));
  }

  select.addEventListener("change", async () => {
    chosenLanguage = select.value;
    try {
      show((await chat.scenarios(chosenLanguage)).items);
    } catch (error) {
      app.notify(error.message);
    }
  });

  fill(main, 
    h("h1", { tabindex: "-1", text: "Choose a scenario" }),
    h("div", { class: "toolbar" }, h("label", { for: "language-filter", text: "Language" }), select, count),
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
  const start = h("button", { type: "submit", class: "button primary", id: "start-practice", text: "Start practice" });
  const chooser = characters.length > 1
    ? h("fieldset", {}, h("legend", { text: "Who do you want to talk to?" }),
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
        ? `${error.message} You have reached today's limit of practice sessions.` : error.message;
      formError.hidden = false;
      start.disabled = false;
    }
  });

  fill(main, 
    h("p", { class: "back" }, h("a", { href: "#/scenarios", text: "← All scenarios" })),
    h("article", { class: "brief" },
      h("h1", { tabindex: "-1", text: scenario.title }),
      h("p", { class: "lead", text: scenario.summary }),
      meta(scenario),
      h("section", {}, h("h2", { text: "Your role" }), h("p", { id: "learner-role", text: scenario.learner_role })),
      scenario.setting ? h("section", {}, h("h2", { text: "The setting" }), h("p", { text: scenario.setting })) : null,
      scenario.objectives?.length ? h("section", {}, h("h2", { text: "Your objectives" }),
        h("ol", { class: "objectives" }, scenario.objectives.map((o) => h("li", { text: o })))) : null,
      characters.length ? h("section", {}, h("h2", { text: characters.length > 1 ? "The people you will meet" : "The person you will meet" }),
        h("ul", { class: "characters" }, characters.map((c) => h("li", {},
          h("strong", { text: c.name }), c.description ? ` — ${c.description}` : "")))) : null,
      scenario.criteria?.length ? h("section", {}, h("h2", { text: "What you are scored on" }),
        h("ul", { class: "criteria-brief" }, scenario.criteria.map((c) => h("li", {},
          h("strong", { text: c.title }), c.description ? h("span", { class: "muted", text: ` — ${c.description}` }) : null)))) : null,
      form));
}
