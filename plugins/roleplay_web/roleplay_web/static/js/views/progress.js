// Progress: scores over time per scenario and per criterion (GET /evaluations/progress).

import { evaluations, plugins } from "../api.js";
import { fill, h, svg } from "../dom.js";
import { dateTime, plural, score, signed } from "../format.js";

const WIDTH = 320;
const HEIGHT = 90;
const PAD = 8;

/** A small line chart of 0-100 scores; the numbers are also in the table next to it. */
function chart(points) {
  const x = (i) => (points.length === 1 ? WIDTH / 2 : PAD + (i * (WIDTH - 2 * PAD)) / (points.length - 1));
  const y = (value) => PAD + ((100 - Number(value)) * (HEIGHT - 2 * PAD)) / 100;
  const label = `Overall scores over time: ${points.map((p) => score(p.overall_score)).join(", ")}`;
  return svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label },
    svg("line", { class: "axis", x1: PAD, x2: WIDTH - PAD, y1: y(50), y2: y(50) }),
    svg("polyline", { class: "line", points: points.map((p, i) => `${x(i)},${y(p.overall_score)}`).join(" ") }),
    points.map((p, i) => svg("circle", { class: p.passed ? "dot passed" : "dot", cx: x(i), cy: y(p.overall_score), r: 4 },
      svg("title", { text: `${dateTime(p.at)}: ${score(p.overall_score)}` }))));
}

function scenarioCard(s) {
  return h("section", { class: "card progress-card", dataset: { scenarioId: s.scenario_id } },
    h("h2", { text: s.scenario_title }),
    h("p", { class: "summary-line", text: `${plural(s.sessions, "session")} · first ${score(s.first_score)} · latest ${score(s.latest_score)} · best ${score(s.best_score)} · change ${signed(s.change)}` }),
    chart(s.points || []),
    h("ol", { class: "points" }, (s.points || []).map((p) => h("li", {},
      h("a", { href: `#/report/${encodeURIComponent(p.evaluation_id)}`, text: `${dateTime(p.at)}: ${score(p.overall_score)}` })))),
    s.criteria?.length ? h("table", { class: "criteria-table" },
      h("caption", { text: "By criterion" }),
      h("thead", {}, h("tr", {}, ["Criterion", "First", "Latest", "Best", "Change"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, s.criteria.map((c) => h("tr", {},
        h("th", { scope: "row", text: c.title }),
        h("td", { text: score(c.first) }), h("td", { text: score(c.latest) }), h("td", { text: score(c.best) }),
        h("td", { text: signed(c.change) }))))) : null);
}

export async function renderProgress(main, ctx) {
  ctx.setTitle("Progress");
  if (!plugins.has("evaluator")) {
    fill(main, h("h1", { tabindex: "-1", text: "Progress" }), h("p", { text: "Evaluations are not enabled on this server." }));
    return;
  }
  const progress = await evaluations.progress();
  if (ctx.signal.aborted) return;
  fill(main, h("h1", { tabindex: "-1", text: "Progress" }),
    progress.scenarios.length
      ? h("div", { class: "progress-list" }, progress.scenarios.map(scenarioCard))
      : h("p", { class: "empty" }, "Nothing to show yet: finish a session and ask for its evaluation. ",
        h("a", { href: "#/scenarios", text: "Choose a scenario" })));
}
