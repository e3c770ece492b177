// My sessions: newest first, with their latest score, and a way to continue or evaluate.

import { chat, evaluations, plugins } from "../api.js";
import { app } from "../app.js";
import { append, fill, h } from "../dom.js";
import { dateTime, duration, plural, score } from "../format.js";
import { evaluate } from "./evaluation.js";
import { t } from "../i18n.js";

export async function renderSessions(main, ctx) {
  ctx.setTitle(t("sessions.title"));
  const [page, scored] = await Promise.all([
    chat.sessions(),
    plugins.has("evaluator") ? evaluations.list({ status: "done", limit: 200 }).catch(() => ({ items: [] })) : { items: [] },
  ]);
  if (ctx.signal.aborted) return;
  // Listed newest first: the first evaluation seen for a session is its latest.
  const latest = new Map();
  for (const e of scored.items) if (!latest.has(e.session_id)) latest.set(e.session_id, e);

  const list = h("ul", { class: "session-list", id: "session-list" });
  const more = h("button", { type: "button", class: "button", text: t("sessions.older"), hidden: true });
  let cursor = page.next_cursor;

  function item(s) {
    const evaluation = latest.get(s.id);
    const status = h("p", { class: "eval-status", "aria-live": "polite" });
    let action;
    if (evaluation) {
      action = h("a", { class: "button", href: `#/report/${encodeURIComponent(evaluation.id)}`, text: t("sessions.report", { score: score(evaluation.overall_score) }) });
    } else if (s.status === "active") {
      action = h("a", { class: "button primary", href: `#/practice/${encodeURIComponent(s.id)}`, text: t("sessions.continue") });
    } else if (plugins.has("evaluator") && (s.counts?.learner || 0) > 0) {
      action = h("button", { type: "button", class: "button", text: t("sessions.evaluate") });
      action.addEventListener("click", async () => {
        action.disabled = true;
        status.textContent = t("sessions.scoring");
        try {
          const done = await evaluate(s.id, ctx.signal);
          if (done.status === "done") app.go(`#/report/${encodeURIComponent(done.id)}`);
          else status.textContent = t("practice.eval_failed", { reason: done.reason || t("practice.no_reason") });
        } catch (error) {
          status.textContent = error.message;
        }
        action.disabled = false;
      });
    }
    return h("li", { class: "card session", dataset: { sessionId: s.id } },
      h("h2", {}, h("a", { href: `#/practice/${encodeURIComponent(s.id)}`, text: s.title })),
      h("p", { class: "muted" },
        h("span", { class: `badge badge-${s.status}`, text: s.status === "active" ? t("sessions.active") : t("sessions.ended") }),
        t("sessions.line", { when: dateTime(s.created_at), messages: plural(s.counts?.messages || 0, "count.messages"), duration: duration(s.duration_seconds) })),
      h("div", { class: "actions" }, action), status);
  }

  function show(items) {
    append(list, items.map(item));
    more.hidden = !cursor;
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const next = await chat.sessions(cursor);
      cursor = next.next_cursor;
      show(next.items);
    } catch (error) {
      app.notify(error.message);
    }
    more.disabled = false;
  });

  fill(main, h("h1", { tabindex: "-1", text: t("sessions.title") }), list, more);
  if (!page.items.length) {
    append(list, h("li", { class: "empty" }, t("sessions.none"), h("a", { href: "#/scenarios", text: t("sessions.none_link") }), t("sessions.none_after")));
  }
  show(page.items);
}
