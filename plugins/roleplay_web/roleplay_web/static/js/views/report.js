// The evaluation report: overall score, each criterion with quoted evidence and a suggestion,
// strengths, improvements, next steps and statistics.

import { evaluations } from "../api.js";
import { fill, h } from "../dom.js";
import { dateTime, duration, percent, score } from "../format.js";
import { untilFinished } from "./evaluation.js";
import { t } from "../i18n.js";

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
        : h("p", { class: "criterion-score muted", text: t("report.not_scored") })),
    scored ? meter(c.score, t("report.out_of", { label: c.title, score: score(c.score) })) : null,
    c.justification ? h("p", { class: "justification", text: c.justification }) : null,
    c.judged_how ? h("p", { class: "judged-how muted", text: c.judged_how }) : null,
    c.evidence?.length ? h("div", { class: "evidence" }, h("h4", { text: t("report.from_conversation") }),
      h("ul", {}, c.evidence.map((e) => h("li", {},
        h("blockquote", {}, h("p", { text: e.quote })),
        h("p", { class: "cite", text: t("report.message", { seq: e.seq }) }))))) : null,
    c.suggestion ? h("p", { class: "suggestion" }, h("strong", { text: t("report.try_this") }), c.suggestion) : null,
    h("p", { class: "criterion-meta muted", text: t("report.weight", { weight: c.weight }) }));
}

function statistics(stats) {
  if (!stats) return null;
  const rows = [
    [t("report.your_turns"), stats.learner_turns],
    [t("report.their_turns"), stats.character_turns],
    [t("report.your_words"), stats.learner_words],
    [t("report.their_words"), stats.character_words],
    [t("report.share"), percent(stats.talk_share)],
    [t("report.questions"), t("report.questions_value", { questions: stats.questions, open: stats.open_questions, closed: stats.closed_questions })],
    [t("report.duration"), duration(stats.duration_seconds)],
  ];
  return h("section", { class: "card stats" }, h("h2", { text: t("report.statistics") }),
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
    fill(main, h("h1", { tabindex: "-1", text: t("report.title") }),
      h("p", { class: "eval-status", "aria-live": "polite", text: t("practice.scoring") }));
    main.querySelector("h1").focus();
    evaluation = await untilFinished(evaluation, answer.headers, ctx.signal);
  }
  if (ctx.signal.aborted) return;
  ctx.setTitle(t("report.tab_title", { title: evaluation.scenario_title }));
  const back = h("p", { class: "back" }, h("a", { href: "#/sessions", text: t("report.back") }));
  if (evaluation.status !== "done" || !evaluation.report) {
    fill(main, back, h("h1", { tabindex: "-1", text: t("report.failed") }),
      h("p", { text: evaluation.reason || t("report.no_reason") }),
      h("p", {}, h("a", { href: `#/practice/${encodeURIComponent(evaluation.session_id)}`, text: t("report.back_to_session") })));
    return;
  }
  const report = evaluation.report;
  const passing = Number(report.passing_score ?? 70);
  const downloadButton = h("button", { type: "button", class: "button", text: t("report.download") });
  downloadButton.addEventListener("click", () => download(evaluation.id, downloadButton));

  fill(main, back, h("article", { class: "report", id: "report" },
    h("h1", { tabindex: "-1", text: t("report.title") }),
    h("p", { class: "muted", text: `${evaluation.scenario_title} · ${dateTime(evaluation.created_at)}` }),
    h("section", { class: `card score-card ${report.passed ? "passed" : "not-passed"}`, "aria-labelledby": "overall-label" },
      h("h2", { id: "overall-label", class: "visually-hidden", text: t("report.overall") }),
      h("p", { class: "overall" }, h("span", { class: "number", id: "overall-score", text: score(report.overall_score) }), h("span", { class: "of", text: " / 100" })),
      meter(report.overall_score, t("report.out_of", { label: t("report.overall"), score: score(report.overall_score) })),
      h("p", { class: "verdict", text: report.passed ? t("report.passed", { pass: passing }) : t("report.not_passed", { pass: passing }) }),
      report.needs_human_review ? h("p", { class: "review", text: t("report.review", { confidence: percent(report.confidence) }) }) : null),
    list(t("report.strengths"), report.strengths, "strengths"),
    list(t("report.improvements"), report.improvements, "improvements"),
    h("section", { class: "card" }, h("h2", { text: t("report.criteria") }),
      h("ol", { class: "criteria" }, (report.criteria || []).map((c) => criterion(c, passing)))),
    list(t("report.next_steps"), report.next_steps, "next-steps"),
    statistics(report.statistics),
    report.notes?.length ? h("details", { class: "notes" }, h("summary", { text: t("report.notes") }),
      h("ul", {}, report.notes.map((n) => h("li", { text: n })))) : null,
    h("div", { class: "actions" },
      h("a", { class: "button", href: `#/practice/${encodeURIComponent(evaluation.session_id)}`, text: t("report.review_conversation") }),
      h("a", { class: "button primary", href: `#/scenarios/${encodeURIComponent(evaluation.scenario_id)}`, text: t("report.again") }),
      downloadButton)));
}
