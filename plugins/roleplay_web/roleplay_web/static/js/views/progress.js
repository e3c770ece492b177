// Progress: scores over time per scenario and per criterion (GET /evaluations/progress).

import { evaluations, plugins } from "../api.js";
import { fill, h, svg } from "../dom.js";
import { dateTime, plural, score, signed } from "../format.js";
import { t } from "../i18n.js";

const DEFAULT_PASSING = 70; // the evaluator's default when a rubric sets none

const WIDTH = 320;
const HEIGHT = 150;
const LEFT = 34; // room for the score labels
const RIGHT = 10;
const TOP = 10;
const BOTTOM = 28; // room for the session numbers

/**
 * A small line chart of 0-100 scores: a labelled score axis (0, 50, 100), the sessions in order
 * on the other (1, 2, 3...), and a dashed line at the pass mark, labelled. The numbers are also
 * in the list and table next to it, and in the chart's label for screen readers.
 */
function chart(points, passing) {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (i) => (points.length === 1 ? LEFT + plotWidth / 2 : LEFT + (i * plotWidth) / (points.length - 1));
  const y = (value) => TOP + ((100 - Number(value)) * (HEIGHT - TOP - BOTTOM)) / 100;
  const label = t("progress.chart_label", { scores: points.map((p) => score(p.overall_score)).join(", "), pass: passing });
  return svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label },
    svg("line", { class: "axis", x1: LEFT, x2: LEFT, y1: y(100), y2: y(0) }),
    svg("line", { class: "axis", x1: LEFT, x2: WIDTH - RIGHT, y1: y(0), y2: y(0) }),
    [0, 50, 100].map((v) => svg("text", { class: "tick", x: LEFT - 6, y: y(v) + 4, "text-anchor": "end", text: String(v) })),
    points.map((p, i) => svg("text", { class: "tick", x: x(i), y: HEIGHT - BOTTOM + 16, "text-anchor": "middle", text: String(i + 1) })),
    svg("text", { class: "axis-title", x: LEFT + plotWidth / 2, y: HEIGHT - 2, "text-anchor": "middle", text: t("progress.session_axis") }),
    svg("line", { class: "pass-mark", x1: LEFT, x2: WIDTH - RIGHT, y1: y(passing), y2: y(passing), dataset: { score: passing } }),
    svg("text", { class: "pass-label", x: WIDTH - RIGHT, y: y(passing) - 4, "text-anchor": "end", text: t("progress.pass", { pass: passing }) }),
    svg("polyline", { class: "line", points: points.map((p, i) => `${x(i)},${y(p.overall_score)}`).join(" ") }),
    points.map((p, i) => svg("circle", { class: p.passed ? "dot passed" : "dot", cx: x(i), cy: y(p.overall_score), r: 4 },
      svg("title", { text: `${dateTime(p.at)}: ${score(p.overall_score)}` }))));
}

/** The pass mark of a scenario: from its latest report (progress points carry only pass/fail). */
async function passMark(s) {
  const latest = (s.points || [])[s.points.length - 1];
  if (!latest) return DEFAULT_PASSING;
  try {
    const passing = (await evaluations.get(latest.evaluation_id)).body?.report?.passing_score;
    return Number.isFinite(Number(passing)) && passing !== null ? Number(passing) : DEFAULT_PASSING;
  } catch {
    return DEFAULT_PASSING;
  }
}

function scenarioCard(s, passing) {
  return h("section", { class: "card progress-card", dataset: { scenarioId: s.scenario_id } },
    h("h2", { text: s.scenario_title }),
    h("p", { class: "summary-line", text: t("progress.summary", { sessions: plural(s.sessions, "count.sessions"), first: score(s.first_score), latest: score(s.latest_score), best: score(s.best_score), change: signed(s.change) }) }),
    chart(s.points || [], passing),
    h("ol", { class: "points" }, (s.points || []).map((p) => h("li", {},
      h("a", { href: `#/report/${encodeURIComponent(p.evaluation_id)}`, text: `${dateTime(p.at)}: ${score(p.overall_score)}` })))),
    s.criteria?.length ? h("div", { class: "table-wrap" }, h("table", { class: "criteria-table" },
      h("caption", { text: t("progress.by_criterion") }),
      h("thead", {}, h("tr", {}, ["criterion", "first", "latest", "best", "change"].map((key) => h("th", { scope: "col", text: t(`progress.${key}`) })))),
      h("tbody", {}, s.criteria.map((c) => h("tr", {},
        h("th", { scope: "row", text: c.title }),
        h("td", { text: score(c.first) }), h("td", { text: score(c.latest) }), h("td", { text: score(c.best) }),
        h("td", { text: signed(c.change) })))))) : null);
}

export async function renderProgress(main, ctx) {
  ctx.setTitle(t("progress.title"));
  if (!plugins.has("evaluator")) {
    fill(main, h("h1", { tabindex: "-1", text: t("progress.title") }), h("p", { text: t("progress.disabled") }));
    return;
  }
  const progress = await evaluations.progress();
  const marks = await Promise.all(progress.scenarios.map(passMark));
  if (ctx.signal.aborted) return;
  fill(main, h("h1", { tabindex: "-1", text: t("progress.title") }),
    progress.scenarios.length
      ? h("div", { class: "progress-list" }, progress.scenarios.map((s, i) => scenarioCard(s, marks[i])))
      : h("p", { class: "empty" }, t("progress.empty"),
        h("a", { href: "#/scenarios", text: t("app.choose_scenario") })));
}
