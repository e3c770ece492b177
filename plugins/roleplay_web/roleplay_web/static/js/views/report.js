// The evaluation report: overall score, each criterion with quoted evidence and a suggestion,
// strengths, improvements, next steps and statistics.

import { evaluations } from "../api.js";
import { fill, h } from "../dom.js";
import { dateTime, duration, percent, score } from "../format.js";
import { untilFinished } from "./evaluation.js";

function meter(value, label) {
  return h("meter", { min: "0", max: "100", low: "50", high: "70", optimum: "100", value: String(value ?? 0), "aria-label": label });
}

function list(title, items, className) {
  if (!items?.length) return null;
  return h("section", { class: `card ${className}` }, h("h2", { text: title }), h("ul", {}, items.map((t) => h("li", { text: t }))));
}

function criterion(c, passing) {
  // A criterion the evaluator could not measure (a model check with no model) has no score:
  // say so rather than show a number nobody measured.
  const scored = c.score !== null && c.score !== undefined;
  const passed = scored && Number(c.score) >= passing;
  return h("li", { class: `criterion ${scored ? (passed ? "ok" : "weak") : "unscored"}`, dataset: { criterionId: c.criterion_id } },
    h("div", { class: "criterion-head" },
      h("h3", { text: c.title }),
      scored
        ? h("p", { class: "criterion-score" }, h("span", { class: "number", text: score(c.score) }), h("span", { class: "of", text: " / 100" }))
        : h("p", { class: "criterion-score muted", text: "Not scored" })),
    scored ? meter(c.score, `${c.title}: ${score(c.score)} out of 100`) : null,
    c.justification ? h("p", { class: "justification", text: c.justification }) : null,
    c.judged_how ? h("p", { class: "judged-how muted", text: c.judged_how }) : null,
    c.evidence?.length ? h("div", { class: "evidence" }, h("h4", { text: "From the conversation" }),
      h("ul", {}, c.evidence.map((e) => h("li", {},
        h("blockquote", {}, h("p", { text: e.quote })),
        h("p", { class: "cite", text: `message ${e.seq}` }))))) : null,
    c.suggestion ? h("p", { class: "suggestion" }, h("strong", { text: "Try this: " }), c.suggestion) : null,
    h("p", { class: "criterion-meta muted", text: `weight ${c.weight}` }));
}

function statistics(stats) {
  if (!stats) return null;
  const rows = [
    ["Your turns", stats.learner_turns],
    ["Their turns", stats.character_turns],
    ["Your words", stats.learner_words],
    ["Their words", stats.character_words],
    ["Your share of the talking", percent(stats.talk_share)],
    ["Questions you asked", `${stats.questions} (${stats.open_questions} open, ${stats.closed_questions} closed)`],
    ["Duration", duration(stats.duration_seconds)],
  ];
  return h("section", { class: "card stats" }, h("h2", { text: "Statistics" }),
    h("dl", {}, rows.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v ?? "–" })))));
}

async function download(id, button) {
  button.disabled = true;
  try {
    const response = await evaluations.markdown(id);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url; // a blob: URL this page just made, not text from anyone
    link.download = `evaluation-${id}.md`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } finally {
    button.disabled = false;
  }
}

export async function renderReport(main, ctx) {
  const [id] = ctx.params;
  let answer = await evaluations.get(id);
  let evaluation = answer.body;
  if (evaluation.status === "pending") {
    fill(main, h("h1", { tabindex: "-1", text: "Your evaluation" }),
      h("p", { class: "eval-status", "aria-live": "polite", text: "Scoring your conversation…" }));
    main.querySelector("h1").focus();
    evaluation = await untilFinished(evaluation, answer.headers, ctx.signal);
  }
  if (ctx.signal.aborted) return;
  ctx.setTitle(`Evaluation: ${evaluation.scenario_title}`);
  const back = h("p", { class: "back" }, h("a", { href: "#/sessions", text: "← My sessions" }));
  if (evaluation.status !== "done" || !evaluation.report) {
    fill(main, back, h("h1", { tabindex: "-1", text: "The evaluation failed" }),
      h("p", { text: evaluation.reason || "No reason was given." }),
      h("p", {}, h("a", { href: `#/practice/${encodeURIComponent(evaluation.session_id)}`, text: "Back to the session" })));
    return;
  }
  const report = evaluation.report;
  const passing = Number(report.passing_score ?? 70);
  const downloadButton = h("button", { type: "button", class: "button", text: "Download (Markdown)" });
  downloadButton.addEventListener("click", () => download(evaluation.id, downloadButton));

  fill(main, back, h("article", { class: "report", id: "report" },
    h("h1", { tabindex: "-1", text: "Your evaluation" }),
    h("p", { class: "muted", text: `${evaluation.scenario_title} · ${dateTime(evaluation.created_at)}` }),
    h("section", { class: `card score-card ${report.passed ? "passed" : "not-passed"}`, "aria-labelledby": "overall-label" },
      h("h2", { id: "overall-label", class: "visually-hidden", text: "Overall score" }),
      h("p", { class: "overall" }, h("span", { class: "number", id: "overall-score", text: score(report.overall_score) }), h("span", { class: "of", text: " / 100" })),
      meter(report.overall_score, `Overall score: ${score(report.overall_score)} out of 100`),
      h("p", { class: "verdict", text: report.passed ? `Passed: ${passing} was needed.` : `Not passed yet: ${passing} is needed.` }),
      report.needs_human_review ? h("p", { class: "review", text: `The evaluator is unsure about this report (confidence ${percent(report.confidence)}); a trainer should review it.` }) : null),
    list("What went well", report.strengths, "strengths"),
    list("What to improve", report.improvements, "improvements"),
    h("section", { class: "card" }, h("h2", { text: "Criteria" }),
      h("ol", { class: "criteria" }, (report.criteria || []).map((c) => criterion(c, passing)))),
    list("Next steps", report.next_steps, "next-steps"),
    statistics(report.statistics),
    report.notes?.length ? h("details", { class: "notes" }, h("summary", { text: "Notes from the evaluator" }),
      h("ul", {}, report.notes.map((n) => h("li", { text: n })))) : null,
    h("div", { class: "actions" },
      h("a", { class: "button", href: `#/practice/${encodeURIComponent(evaluation.session_id)}`, text: "Review the conversation" }),
      h("a", { class: "button primary", href: `#/scenarios/${encodeURIComponent(evaluation.scenario_id)}`, text: "Practise again" }),
      downloadButton)));
}
