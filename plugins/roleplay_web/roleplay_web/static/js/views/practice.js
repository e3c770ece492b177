// Practise: the conversation with the character. Over the session's WebSocket when it connects
// (streamed replies), over plain HTTP when it does not. Ending, then asking for the evaluation.

import { ApiError, chat, evaluations, plugins } from "../api.js";
import { app } from "../app.js";
import { connect } from "../chat_socket.js";
import { append, fill, h } from "../dom.js";
import { dateTime, duration, plural, score } from "../format.js";
import { evaluate } from "./evaluation.js";
import { talkPanel } from "./talk.js";
import { t } from "../i18n.js";

const RETRYABLE = new Set(["provider_error", "reply_timeout", "reply_pending"]);

export async function renderPractice(main, ctx) {
  const [sessionId] = ctx.params;
  const first = await chat.session(sessionId);
  let scenario = null;
  try {
    scenario = await chat.scenario(first.scenario_id);
  } catch {
    // unpublished since: the conversation still shows, without the brief
  }
  if (ctx.signal.aborted) return;
  ctx.setTitle(first.title);

  const names = new Map((scenario?.characters || []).map((c) => [c.id, c.name]));
  const characterName = names.get(first.character_id) || t("practice.character");
  const state = { session: first, seqs: new Set(), lastSeq: 0, busy: false, socket: null, pendingText: null };

  // -- the page ----------------------------------------------------------------------------
  const log = h("ol", { class: "messages", id: "messages", role: "log", "aria-live": "polite", "aria-label": t("practice.conversation") });
  // A <span>: it sits inside the "With Dana · started ..." paragraph, and a <p> may not hold a <p>.
  const transport = h("span", { class: "transport", id: "transport", dataset: { transport: "connecting" } });
  const transportText = h("span", { class: "transport-text", text: t("practice.connecting") });
  // The separator belongs to the transport: hidden with it, so no "·" dangles once the session ends.
  append(transport, h("span", { class: "separator", "aria-hidden": "true", text: " · " }), transportText);
  const replying = h("p", { class: "replying", "aria-live": "polite" });
  const errorBox = h("div", { class: "inline-error", role: "alert", hidden: true });
  const retryButton = h("button", { type: "button", class: "button", text: t("practice.retry"), hidden: true });
  const textarea = h("textarea", { id: "message-input", name: "text", rows: "3", required: true, "aria-describedby": "message-hint" });
  const sendButton = h("button", { type: "submit", class: "button primary", id: "send", text: t("practice.send") });
  const endButton = h("button", { type: "button", class: "button", id: "end-session", text: t("practice.end") });
  const composer = h("form", { class: "composer", id: "composer" },
    h("label", { for: "message-input", text: t("practice.your_reply") }),
    textarea,
    h("p", { class: "hint", id: "message-hint", text: t("practice.enter_hint") }),
    h("div", { class: "actions" }, sendButton, endButton));
  // Type or talk: one conversation either way (the same log, the same session).
  const typeMode = h("button", { type: "button", class: "mode", id: "mode-type", "aria-pressed": "true", text: t("voice.mode_type") });
  const talkMode = h("button", { type: "button", class: "mode", id: "mode-talk", "aria-pressed": "false", text: t("voice.mode_talk") });
  const modes = h("div", { class: "modes", role: "group", "aria-label": t("voice.how") }, typeMode, talkMode);
  const talk = talkPanel({
    sessionId, log, characterName, characterId: first.character_id, signal: ctx.signal,
    addMessage: (message) => addMessage(message),
    catchUp: () => catchUp(0, true),
    typedStored: () => typedStored(),
    ended: () => state.session.status === "ended",
    onCallChange(active) {
      // A call and the typed socket share the log; the Type button cannot hide a running call.
      typeMode.disabled = active;
    },
  });
  const endedPanel = h("section", { class: "card ended", id: "ended", hidden: true, "aria-labelledby": "ended-title" });
  // Announces the end (the panel appears where the composer was, which had the focus).
  const endedStatus = h("p", { class: "visually-hidden", role: "status", id: "ended-status" });

  const brief = h("aside", { class: "brief-side", "aria-label": t("practice.brief_label") },
    h("details", { open: window.matchMedia("(min-width: 60rem)").matches },
      h("summary", { text: t("practice.brief") }),
      scenario?.learner_role ? h("p", {}, h("strong", { text: t("practice.you_are") }), scenario.learner_role) : null,
      scenario?.setting ? h("p", { class: "muted", text: scenario.setting }) : null,
      scenario?.objectives?.length ? h("div", {}, h("h2", { text: t("practice.objectives") }),
        h("ol", { class: "objectives" }, scenario.objectives.map((o) => h("li", { text: o })))) : null));

  fill(main, 
    h("div", { class: "practice" },
      h("div", { class: "conversation" },
        h("h1", { tabindex: "-1", text: first.title }),
        h("p", { class: "muted session-line" }, t("practice.with", { name: characterName, when: dateTime(first.created_at) }), transport),
        log, replying, errorBox, retryButton, modes, talk.panel, composer, endedPanel, endedStatus),
      brief));

  // -- talking ------------------------------------------------------------------------------
  function typedStored() {
    if (state.pendingText !== null) {
      textarea.value = "";
      state.pendingText = null;
    }
  }

  function setMode(mode) {
    typeMode.setAttribute("aria-pressed", mode === "type" ? "true" : "false");
    talkMode.setAttribute("aria-pressed", mode === "talk" ? "true" : "false");
    if (mode === "talk") talk.open();
    else if (!talk.active()) talk.close();
  }
  typeMode.addEventListener("click", () => setMode("type"));
  talkMode.addEventListener("click", () => setMode("talk"));

  // -- messages -----------------------------------------------------------------------------
  let stream = null; // the bubble a streamed reply is written into

  function speaker(message) {
    return message.role === "learner" ? t("practice.you") : names.get(message.character_id) || characterName;
  }

  function addMessage(message) {
    if (!message || state.seqs.has(message.seq)) return;
    state.seqs.add(message.seq);
    state.lastSeq = Math.max(state.lastSeq, message.seq);
    const item = h("li", { class: `message ${message.role}${message.voice ? " voice" : ""}`, dataset: { seq: message.seq, role: message.role, voice: message.voice ? "true" : "false" } },
      h("p", { class: "speaker" }, speaker(message),
        message.voice ? h("span", { class: "spoken", text: ` · ${message.interrupted ? t("voice.spoken_interrupted") : t("voice.spoken")}` }) : null,
        // The message number, as the report's evidence cites it ("message 7").
        h("span", { class: "seq", title: t("report.message", { seq: message.seq }), text: ` #${message.seq}` })),
      h("p", { class: "text", text: message.text }));
    const later = [...log.children].find((li) => li.dataset.seq && Number(li.dataset.seq) > message.seq);
    // Before anything still being written: a streamed reply, a live voice transcript.
    const unfinished = [...log.children].find((li) => li === stream || li.dataset.live);
    log.insertBefore(item, later || unfinished || null);
    item.scrollIntoView({ block: "nearest" });
  }

  function streamDelta(text) {
    if (!stream) {
      stream = h("li", { class: "message character streaming", "aria-hidden": "true" },
        h("p", { class: "speaker", text: characterName }), h("p", { class: "text" }));
      append(log, stream);
    }
    stream.querySelector(".text").textContent += text;
    stream.scrollIntoView({ block: "nearest" });
  }

  function endStream() {
    stream?.remove();
    stream = null;
  }

  function setBusy(busy) {
    state.busy = busy;
    sendButton.disabled = busy;
    endButton.disabled = busy;
    log.setAttribute("aria-busy", busy ? "true" : "false");
    replying.textContent = busy ? t("practice.replying", { name: characterName }) : "";
  }

  function showError(text, problem = {}) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
    retryButton.hidden = !RETRYABLE.has(problem.code || "");
  }

  function setTransport(kind) {
    transport.dataset.transport = kind;
    transportText.textContent = kind === "websocket" ? t("practice.live") : t("practice.http");
  }

  // -- the socket ---------------------------------------------------------------------------
  function onFrame(frame) {
    switch (frame.type) {
      case "ready":
      case "resumed":
        state.session = frame.session || state.session;
        if (frame.type === "resumed" && state.session.status === "ended") showEnded();
        break;
      case "message":
        addMessage(frame.message);
        if (frame.message?.role === "learner" && state.pendingText !== null) {
          textarea.value = ""; // stored: only now is it safe to clear what was typed
          state.pendingText = null;
        }
        if (frame.final) {
          endStream();
          setBusy(false);
        }
        break;
      case "delta":
        streamDelta(frame.text || "");
        break;
      case "ended":
        state.session = frame.session || state.session;
        showEnded();
        break;
      case "error":
        endStream();
        setBusy(false);
        state.pendingText = null;
        if (frame.message) addMessage(frame.message);
        showError(frame.detail || t("practice.refused"), frame);
        if (frame.code === "session_ended") catchUp();
        break;
      default:
        break; // pong and anything newer
    }
  }

  async function onClose() {
    state.socket = null;
    if (state.session.status === "ended" || ctx.signal.aborted) return;
    setTransport("http");
    await catchUp();
  }

  /** Fetch what the socket did not deliver. A reply still being written (the socket dropped
   *  mid-reply; the server finishes it anyway) is waited for, a second at a time. */
  async function catchUp(tries = 30, afterCall = false) {
    try {
      const latest = await chat.session(sessionId, state.lastSeq);
      latest.messages.forEach(addMessage);
      state.session = latest;
      if (latest.status === "ended") {
        showEnded();
        return;
      }
      const newest = [...log.querySelectorAll("li.message:not(.streaming)")].pop();
      // After a call a spoken turn may have no reply (the learner hung up): nothing is missing then.
      const replyMissing = !afterCall && newest?.dataset.role === "learner" && latest.awaiting_reply === null;
      if (replyMissing && tries > 0 && !ctx.signal.aborted) {
        setTimeout(() => catchUp(tries - 1, afterCall), 1000);
        return;
      }
      endStream();
      setBusy(false);
      if (latest.awaiting_reply !== null) showError(t("practice.no_reply_yet"), { code: "reply_pending" });
      else if (replyMissing) showError(t("practice.reply_missing"));
    } catch (error) {
      setBusy(false);
      showError(error.message);
    }
  }

  // -- actions ------------------------------------------------------------------------------
  async function sendText(text) {
    showError("");
    if (talk.active()) { // during a call: stored as a typed message, answered by voice
      state.pendingText = text;
      if (talk.sendText(text)) return;
      state.pendingText = null;
    }
    setBusy(true);
    state.pendingText = text;
    if (state.socket?.send({ type: "message", text })) return;
    state.pendingText = null;
    try {
      const result = await chat.send(sessionId, text);
      textarea.value = "";
      addMessage(result.message);
      addMessage(result.reply);
      state.session = result.session;
      if (state.session.status === "ended") showEnded();
    } catch (error) {
      if (error instanceof ApiError && error.problem.message) {
        addMessage(error.problem.message); // stored even though the reply failed
        textarea.value = "";
      }
      showError(error.message, error.problem || {});
    } finally {
      setBusy(false);
    }
  }

  async function retryReply() {
    showError("");
    setBusy(true);
    if (state.socket?.send({ type: "retry" })) return;
    try {
      const result = await chat.retry(sessionId);
      addMessage(result.reply);
      state.session = result.session;
      if (state.session.status === "ended") showEnded();
    } catch (error) {
      showError(error.message, error.problem || {});
    } finally {
      setBusy(false);
    }
  }

  async function endSession() {
    showError("");
    endButton.disabled = true;
    try {
      state.session = await chat.end(sessionId);
      state.socket?.close();
      state.socket = null;
      showEnded();
    } catch (error) {
      showError(error.message, error.problem || {});
      endButton.disabled = false;
    }
  }

  /** Read-only from now on. `moveFocus`: the learner's focus was in the composer, which goes away. */
  function showEnded(moveFocus = true) {
    if (!endedPanel.hidden) return;
    talk.stop();
    talk.close();
    modes.hidden = true;
    state.socket?.close();
    state.socket = null;
    composer.hidden = true;
    retryButton.hidden = true;
    transport.hidden = true;
    setBusy(false);
    const session = state.session;
    const status = h("p", { class: "eval-status", "aria-live": "polite" });
    const canEvaluate = plugins.has("evaluator") && (session.counts?.learner || 0) > 0;
    const evaluateButton = h("button", { type: "button", class: "button primary", id: "evaluate", text: t("practice.evaluate") });
    evaluateButton.addEventListener("click", async () => {
      evaluateButton.disabled = true;
      status.textContent = t("practice.scoring");
      try {
        const evaluation = await evaluate(sessionId, ctx.signal);
        if (evaluation.status === "done") {
          app.go(`#/report/${encodeURIComponent(evaluation.id)}`);
          return;
        }
        status.textContent = t("practice.eval_failed", { reason: evaluation.reason || t("practice.no_reason") });
      } catch (error) {
        if (ctx.signal.aborted) return;
        status.textContent = error.message;
      }
      evaluateButton.disabled = false;
    });
    const previous = h("p", { class: "previous" });
    const summary = t("practice.summary", { reason: session.end_reason ? `${sentence(session.end_reason)} ` : "",
      messages: plural(session.counts?.messages || 0, "count.messages"), duration: duration(session.duration_seconds) });
    fill(endedPanel,
      h("h2", { id: "ended-title", tabindex: "-1", text: t("practice.ended") }),
      h("p", { text: summary }),
      canEvaluate ? h("div", { class: "actions" }, evaluateButton) : null,
      !canEvaluate && plugins.has("evaluator") ? h("p", { class: "muted", text: t("practice.nothing_to_evaluate") }) : null,
      status, previous,
      h("p", {}, h("a", { href: `#/scenarios/${encodeURIComponent(session.scenario_id)}`, text: t("practice.again") }),
        " · ", h("a", { href: "#/sessions", text: t("practice.all_sessions") })));
    endedPanel.hidden = false;
    endedStatus.textContent = t("practice.ended_status", { summary });
    if (moveFocus) endedPanel.querySelector("h2").focus();
    if (plugins.has("evaluator")) showPrevious(previous);
  }

  async function showPrevious(target) {
    try {
      const found = await evaluations.list({ session_id: sessionId, status: "done", limit: 1 });
      const latest = found.items[0];
      if (latest) {
        append(target, t("practice.already"), h("a", { href: `#/report/${encodeURIComponent(latest.id)}`, text: t("practice.already_link", { score: score(latest.overall_score) }) }));
      }
    } catch {
      // the link is a convenience
    }
  }

  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!text || state.busy) return;
    sendText(text);
  });
  endButton.addEventListener("click", endSession);
  retryButton.addEventListener("click", retryReply);

  first.messages.forEach(addMessage);
  if (first.awaiting_reply !== null && first.status === "active") {
    showError(t("practice.no_reply_yet"), { code: "reply_pending" });
  }
  if (first.status === "ended") {
    transport.hidden = true;
    showEnded(false); // opened read-only: the view's heading keeps the focus
    return;
  }
  ctx.signal.addEventListener("abort", () => state.socket?.close());
  // Not awaited: the view is usable (and keeps the learner's focus) while the socket connects;
  // a message sent meanwhile goes over HTTP.
  connectLive();

  async function connectLive() {
    try {
      const socket = await connect(sessionId, state.lastSeq, onFrame, onClose);
      if (ctx.signal.aborted || state.session.status === "ended") {
        socket.close();
        return;
      }
      state.socket = socket;
      setTransport("websocket");
    } catch {
      if (ctx.signal.aborted) return;
      setTransport("http"); // the HTTP API does everything the socket does, without streaming
    }
  }
}

/** "ended by the learner" -> "Ended by the learner."; "Dana left." stays as it is. */
function sentence(text) {
  const trimmed = text.trim();
  const capital = trimmed ? trimmed[0].toUpperCase() + trimmed.slice(1) : "";
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
