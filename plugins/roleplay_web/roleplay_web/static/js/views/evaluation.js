// Ask for an evaluation and wait for it: POST /evaluations answers 201 when it is quick,
// else 202 and we poll GET /evaluations/{id}, as often as Retry-After says.

import { evaluations } from "../api.js";
import { randomKey } from "../format.js";
import { t } from "../i18n.js";

const MAX_WAIT_MS = 120_000;

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("left the page", "AbortError"));
    }, { once: true });
  });
}

/** Poll until the evaluation is done or failed; returns it. */
export async function untilFinished(evaluation, headers, signal) {
  const started = Date.now();
  let current = evaluation;
  let hints = headers;
  while (current.status === "pending") {
    if (Date.now() - started > MAX_WAIT_MS) {
      throw new Error(t("evaluation.slow"));
    }
    const seconds = Math.min(5, Math.max(1, Number(hints?.get("Retry-After")) || 1));
    await sleep(seconds * 1000, signal);
    const answer = await evaluations.get(current.id);
    current = answer.body;
    hints = answer.headers;
  }
  return current;
}

/**
 * Request an evaluation of a session and wait for it. One idempotency key per request, so a
 * repeated click or a retried network call cannot create a second evaluation.
 */
export async function evaluate(sessionId, signal) {
  const answer = await evaluations.request(sessionId, randomKey());
  return untilFinished(answer.body, answer.headers, signal);
}
