// "Talk": voice practice inside the practice view. The page first asks the server whether the
// provider has live speech (GET /capabilities) and explains how to set a model when it has not.
// A call writes into the same conversation log as typing: live transcripts turn into the
// session's messages (with their numbers) when final.

import { server } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { browserCanTalk, startCall, VoiceUnavailable } from "../voice.js";

let capability = null; // asked once per page load

async function voiceCapability() {
  if (!capability) {
    capability = server.capabilities().then((answer) => answer.voice).catch(() => {
      capability = null;
      return { available: false, reason: "unknown" };
    });
  }
  return capability;
}

/** An error code (docs/voice.md) as a sentence with what to do; unknown codes keep the server's words. */
export function voiceError(code, detail = "") {
  const key = `voice.error.${code}`;
  const text = t(key);
  return text === key ? t("voice.error.unknown", { detail: detail || code }) : text;
}

/**
 * The Talk panel. `page` gives: characterName, sessionId, addMessage(message), catchUp(),
 * ended() (true once the session is read-only), onCallChange(active).
 */
export function talkPanel(page) {
  const status = h("p", { class: "voice-status", id: "voice-status", role: "status" });
  const problem = h("p", { class: "inline-error", id: "voice-error", role: "alert", hidden: true });
  const help = h("p", { class: "hint", id: "voice-help", hidden: true });
  const startButton = h("button", { type: "button", class: "button primary", id: "call-start", text: t("voice.start") });
  const endButton = h("button", { type: "button", class: "button", id: "call-end", text: t("voice.end"), hidden: true });
  const muteButton = h("button", { type: "button", class: "button", id: "mute", "aria-pressed": "false", text: t("voice.mute"), disabled: true });
  const pttButton = h("button", { type: "button", class: "button", id: "ptt", text: t("voice.hold"), hidden: true });
  const handsFree = h("input", { type: "radio", name: "talk-mode", value: "hands-free", id: "hands-free", checked: true });
  const pushToTalk = h("input", { type: "radio", name: "talk-mode", value: "push-to-talk", id: "push-to-talk" });
  const level = h("meter", { id: "voice-level", min: "0", max: "1", low: "0.1", high: "0.8", optimum: "0.5", value: "0", "aria-label": t("voice.level") });
  const panel = h("section", { class: "talk card", id: "talk", hidden: true, "aria-labelledby": "talk-title", dataset: { state: "checking" } },
    h("h2", { id: "talk-title", class: "visually-hidden", text: t("voice.title") }),
    status, help, problem,
    h("div", { class: "talk-controls" },
      startButton, endButton,
      h("fieldset", { class: "talk-mode" }, h("legend", { class: "visually-hidden", text: t("voice.how") }),
        h("label", { class: "choice", for: "hands-free" }, handsFree, ` ${t("voice.hands_free")}`),
        h("label", { class: "choice", for: "push-to-talk" }, pushToTalk, ` ${t("voice.push_to_talk")}`)),
      pttButton, muteButton,
      h("label", { class: "level", for: "voice-level" }, h("span", { class: "visually-hidden", text: t("voice.level") }), level)));

  let call = null;
  const live = { learner: null, character: null }; // the live transcript bubbles
  // What the call did, on the panel's data-* attributes: for the status line's logic and for tests.
  const counters = { cleared: 0, interruptions: 0, finals: 0, live: { learner: 0, character: 0 } };

  function setState(state, text) {
    panel.dataset.state = state;
    if (text !== undefined) status.textContent = text;
  }

  function showProblem(text) {
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  function liveBubble(role) {
    if (!live[role]) {
      live[role] = h("li", { class: `message ${role} live`, "aria-hidden": "true", dataset: { live: role } },
        h("p", { class: "speaker", text: role === "learner" ? t("practice.you") : page.characterName }), h("p", { class: "text" }));
      page.log.append(live[role]);
    }
    return live[role];
  }

  function dropLive(role) {
    live[role]?.remove();
    live[role] = null;
  }

  const events = {
    state(state) {
      const texts = {
        connecting: t("voice.connecting"),
        listening: pushToTalk.checked ? t("voice.listening_ptt") : t("voice.listening"),
        reconnecting: t("voice.reconnecting"),
        stopping: t("voice.stopping"),
        ended: t("voice.ended"),
      };
      setState(state, texts[state]);
      if (state === "reconnecting") panel.dataset.reconnecting = String(Number(panel.dataset.reconnecting || 0) + 1);
    },
    transcript(frame) {
      const role = frame.role === "learner" ? "learner" : "character";
      if (!frame.final) {
        counters.live[role] += 1;
        panel.dataset[role === "learner" ? "liveLearner" : "liveCharacter"] = String(counters.live[role]);
        const bubble = liveBubble(role);
        bubble.querySelector(".text").textContent += frame.text || "";
        bubble.scrollIntoView({ block: "nearest" });
        if (role === "character") setState("speaking", t("voice.speaking", { name: page.characterName }));
        return;
      }
      if (frame.voice) dropLive(role);
      counters.finals += 1;
      panel.dataset.finals = String(counters.finals);
      page.addMessage({ seq: frame.seq, role, text: frame.text, voice: frame.voice, interrupted: frame.interrupted,
        character_id: page.characterId });
      if (role === "learner" && frame.voice === false) page.typedStored();
    },
    turnComplete() {
      dropLive("character");
      if (call) events.state("listening");
    },
    interrupted() {
      counters.interruptions += 1;
      panel.dataset.interruptions = String(counters.interruptions);
    },
    level(value) {
      level.value = value;
      if (call) panel.dataset.framesSent = String(call.framesSent);
    },
    resumed(frame) {
      // The provider moved to a new connection; the conversation went on. Said once, calmly.
      panel.dataset.reconnects = String(frame.reconnects ?? (Number(panel.dataset.reconnects || 0) + 1));
      status.textContent = t("voice.resumed");
    },
    playback(report) {
      if (report.cleared !== undefined) {
        if (report.cleared > 0) counters.cleared += 1;
        panel.dataset.cleared = String(counters.cleared);
        panel.dataset.droppedMs = String(Math.round((report.cleared / (report.rate || 48000)) * 1000));
        return;
      }
      panel.dataset.playedMs = String(Math.round((report.played / report.rate) * 1000));
      panel.dataset.bufferedMs = String(Math.round((report.buffered / report.rate) * 1000));
      panel.dataset.playing = report.playing ? "true" : "false";
      panel.dataset.underruns = String(report.underruns);
    },
    error(frame) {
      showProblem(voiceError(frame.code, frame.detail));
      panel.dataset.error = frame.code || "";
    },
    closed(closed) {
      endedCall();
      if (closed.restart || closed.code === 1012) {
        showProblem(voiceError("server_restarting"));
      } else if (!closed.error && closed.code !== 1000) {
        showProblem(voiceError(closed.code === 4401 ? "unauthorized" : closed.code === 1009 ? "frame_too_big" : "socket_closed"));
      }
    },
  };

  function endedCall() {
    call = null;
    dropLive("learner");
    dropLive("character");
    startButton.hidden = page.ended();
    startButton.disabled = false;
    endButton.hidden = true;
    muteButton.disabled = true;
    muteButton.setAttribute("aria-pressed", "false");
    pttButton.hidden = true;
    level.value = 0;
    page.onCallChange(false);
    page.catchUp(); // anything stored that the socket did not bring
  }

  async function start() {
    showProblem("");
    startButton.disabled = true;
    try {
      call = await startCall(page.sessionId, events);
    } catch (error) {
      call = null;
      startButton.disabled = false;
      const code = error instanceof VoiceUnavailable ? error.code : "socket_closed";
      setState(code === "mic_refused" ? "mic-refused" : "idle", t("voice.idle"));
      showProblem(voiceError(code, error.frame?.detail));
      panel.dataset.error = code;
      if (code === "mic_refused") startButton.textContent = t("voice.try_again");
      return;
    }
    startButton.hidden = true;
    endButton.hidden = false;
    muteButton.disabled = false;
    call.setPushToTalk(pushToTalk.checked);
    pttButton.hidden = !pushToTalk.checked;
    page.onCallChange(true);
  }

  function stop() {
    call?.stop();
  }

  function setMode() {
    call?.setPushToTalk(pushToTalk.checked);
    pttButton.hidden = !call || !pushToTalk.checked;
    if (call) events.state("listening");
  }

  function hold(on) {
    if (!call || !pushToTalk.checked) return;
    call.talk(on);
    pttButton.setAttribute("aria-pressed", on ? "true" : "false");
    panel.dataset.talking = on ? "true" : "false";
  }

  startButton.addEventListener("click", start);
  endButton.addEventListener("click", stop);
  muteButton.addEventListener("click", () => {
    if (!call) return;
    const muted = muteButton.getAttribute("aria-pressed") !== "true";
    call.setMuted(muted);
    muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
    muteButton.textContent = muted ? t("voice.unmute") : t("voice.mute");
    panel.dataset.muted = muted ? "true" : "false";
  });
  handsFree.addEventListener("change", setMode);
  pushToTalk.addEventListener("change", setMode);
  pttButton.addEventListener("pointerdown", () => hold(true));
  for (const name of ["pointerup", "pointerleave", "pointercancel"]) pttButton.addEventListener(name, () => hold(false));

  // The space bar talks in push-to-talk, except while typing in a field.
  function typing(target) {
    return target instanceof HTMLElement && (target.isContentEditable || ["TEXTAREA", "INPUT", "SELECT"].includes(target.tagName));
  }
  const onKey = (event) => {
    if (event.code !== "Space" || !call || !pushToTalk.checked || typing(event.target)) return;
    event.preventDefault();
    if (event.type === "keydown" && !event.repeat) hold(true);
    if (event.type === "keyup") hold(false);
  };
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", onKey);
  page.signal.addEventListener("abort", () => {
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("keyup", onKey);
    call?.stop();
  });

  return {
    panel,
    /** Show the panel: ask the server first; explain when voice is not available. */
    async open() {
      panel.hidden = false;
      if (call) return;
      if (!browserCanTalk()) {
        setState("unavailable", voiceError("no_browser_support"));
        startButton.hidden = true;
        return;
      }
      setState("checking", t("voice.checking"));
      startButton.disabled = true;
      const voice = await voiceCapability();
      if (!voice.available) {
        setState("unavailable", t("voice.unavailable", { provider: voice.provider || "?" }));
        help.textContent = t("voice.how_to_enable", { setting: voice.setting || "chat.model" });
        help.hidden = false;
        startButton.hidden = true;
        return;
      }
      help.hidden = true;
      startButton.hidden = page.ended();
      startButton.disabled = false;
      setState("idle", t("voice.idle"));
    },
    close() {
      panel.hidden = true;
    },
    active: () => Boolean(call),
    sendText: (text) => Boolean(call?.sendText(text)),
    stop,
  };
}
