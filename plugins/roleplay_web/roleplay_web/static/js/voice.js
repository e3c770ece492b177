// A voice call over WS /chat/sessions/{id}/voice (docs/voice.md): auth in the first frame, a start
// frame with the device's rate, PCM16 frames from an AudioWorklet, the character's audio played
// from a jitter buffer (another AudioWorklet), transcripts and control frames to the page.

import { base, chat, refresh } from "./api.js";
import { accessToken } from "./tokens.js";

/** The rates the endpoint accepts (docs/voice.md, "Start"). */
const RATES = [16000, 24000, 44100, 48000];
const NORMAL = 1000;
const SERVER_RESTART = 1012;

/** Why a call could not start on this browser: a code the page turns into a sentence. */
export class VoiceUnavailable extends Error {
  constructor(code, cause) {
    super(code);
    this.code = code;
    this.cause = cause;
  }
}

/** Whether this browser can make a call at all (a secure context with a microphone API and worklets). */
export function browserCanTalk() {
  return Boolean(window.isSecureContext && navigator.mediaDevices?.getUserMedia && window.AudioWorkletNode);
}

function micProblem(error) {
  const name = error?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError") return "mic_refused";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "no_mic";
  if (name === "NotReadableError" || name === "AbortError") return "mic_busy";
  return "mic_failed";
}

/**
 * Start a call. `events` receives:
 *   state(name)          connecting | listening | reconnecting | stopping | ended
 *   transcript(frame)    {role, text, final, seq?, voice?, interrupted?}
 *   turnComplete()       interrupted()       resumed(frame)
 *   level(value 0..1)    playback({buffered, played, playing, underruns, rate})
 *   error(frame)         an error frame, or {code} for a close without one
 *   closed({code, reason, restart})
 * Resolves to the VoiceCall once the microphone is on and the socket is open; rejects with
 * VoiceUnavailable when the browser or the microphone says no.
 */
export async function startCall(sessionId, events) {
  if (!browserCanTalk()) throw new VoiceUnavailable("no_browser_support");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (error) {
    throw new VoiceUnavailable(micProblem(error), error);
  }
  const call = new VoiceCall(sessionId, stream, events);
  try {
    await call.open();
  } catch (error) {
    call.release();
    throw error;
  }
  return call;
}

export class VoiceCall {
  constructor(sessionId, stream, events) {
    this.sessionId = sessionId;
    this.stream = stream;
    this.events = events;
    this.context = null;
    this.capture = null;
    this.playback = null;
    this.ws = null;
    this.sending = true; // hands-free by default
    this.muted = false;
    this.pushToTalk = false;
    this.framesSent = 0;
    this.renewTimer = undefined;
    this.lastError = null;
    this.restart = false;
    this.stopped = false;
  }

  async open() {
    // The device's rate when the endpoint takes it; else 48 kHz, and the browser resamples the mic.
    let context = new AudioContext({ latencyHint: "interactive" });
    if (!RATES.includes(context.sampleRate)) {
      await context.close();
      context = new AudioContext({ latencyHint: "interactive", sampleRate: 48000 });
    }
    this.context = context;
    const worklets = `${base.web}/app/js/worklets`;
    await context.audioWorklet.addModule(`${worklets}/capture.js`);
    await context.audioWorklet.addModule(`${worklets}/playback.js`);
    this.capture = new AudioWorkletNode(context, "roleplay-capture", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
    this.playback = new AudioWorkletNode(context, "roleplay-playback", { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    const silent = context.createGain(); // the capture node must be pulled by the graph, but not heard
    silent.gain.value = 0;
    context.createMediaStreamSource(this.stream).connect(this.capture);
    this.capture.connect(silent).connect(context.destination);
    this.playback.connect(context.destination);
    this.capture.port.onmessage = (event) => this.fromMicrophone(event.data);
    this.playback.port.onmessage = (event) => {
      this.events.playback?.({ ...event.data, rate: context.sampleRate });
      if (this.closing && event.data.buffered === 0 && !event.data.playing) this.release();
    };
    this.updateSending();
    if (context.state === "suspended") await context.resume();
    await this.connect();
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(chat.voiceUrl(this.sessionId));
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      let started = false;
      this.events.state?.("connecting");
      ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: accessToken() || "" })));
      ws.addEventListener("message", (event) => {
        if (typeof event.data !== "string") {
          this.toSpeaker(event.data);
          return;
        }
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        if (frame.type === "authenticated") {
          this.renewBefore(frame.expires_at);
          if (!started) {
            const rate = this.context.sampleRate;
            ws.send(JSON.stringify({ type: "start", sample_rate: rate, output_sample_rate: rate, channels: 1 }));
          }
        } else if (frame.type === "started") {
          started = true;
          this.started = true; // audio may go out only now: binary before "start" ends the call
          this.events.state?.("listening");
          resolve(this);
        } else {
          this.onFrame(frame);
        }
      });
      ws.addEventListener("close", (event) => {
        clearTimeout(this.renewTimer);
        if (started) this.releaseAfterPlayback(); // the character's last words still play
        else this.release();
        const closed = { code: event.code, reason: event.reason, restart: this.restart, error: this.lastError };
        if (!started) {
          // Refused before the call started: the error frame (if any) says why.
          const refusal = new VoiceUnavailable(this.lastError?.code || (event.code === 4401 ? "unauthorized" : "socket_closed"));
          refusal.frame = this.lastError;
          reject(refusal);
          return;
        }
        this.events.state?.("ended");
        this.events.closed?.(closed);
      });
    });
  }

  onFrame(frame) {
    switch (frame.type) {
      case "transcript":
        this.events.transcript?.(frame);
        break;
      case "turn_complete":
        this.playback?.port.postMessage({ drain: true });
        this.events.turnComplete?.();
        break;
      case "interrupted":
        // Barge-in: the learner spoke over the character; what is queued must not play.
        this.playback?.port.postMessage({ clear: true });
        this.events.interrupted?.();
        break;
      case "reconnecting":
        this.events.state?.("reconnecting");
        break;
      case "resumed":
        this.events.state?.("listening");
        this.events.resumed?.(frame);
        break;
      case "reconnect":
        this.restart = true; // the server is restarting (1012 follows): finished turns are stored
        break;
      case "error":
        this.lastError = frame;
        this.events.error?.(frame);
        break;
      case "stopped":
        this.events.state?.("ended");
        break;
      default:
        break; // pong and anything newer
    }
  }

  /** The access token must be renewed in-band before it expires (docs/voice.md, 4401 token_expired). */
  renewBefore(expiresAt) {
    clearTimeout(this.renewTimer);
    if (!expiresAt) return;
    const delay = Math.max(1000, expiresAt * 1000 - Date.now() - 60_000);
    this.renewTimer = setTimeout(async () => {
      if (this.ws?.readyState !== WebSocket.OPEN) return;
      // The socket may have closed while the refresh was under way (signed out, page left).
      if ((await refresh()) && this.ws?.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: "auth", token: accessToken() || "" }));
      }
    }, delay);
  }

  fromMicrophone(data) {
    if (data.level !== undefined) {
      this.events.level?.(this.muted ? 0 : Math.min(1, data.level * 4));
      return;
    }
    if (data.pcm && this.started && this.ws?.readyState === WebSocket.OPEN && !this.stopped) {
      this.ws.send(data.pcm);
      this.framesSent += 1;
    }
  }

  /** PCM16 at the context's rate (we asked for it) -> float samples for the jitter buffer. */
  toSpeaker(buffer) {
    if (!this.playback || buffer.byteLength < 2) return;
    const pcm = new Int16Array(buffer, 0, buffer.byteLength >> 1);
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i += 1) samples[i] = pcm[i] / 0x8000;
    this.playback.port.postMessage({ samples }, [samples.buffer]);
  }

  updateSending() {
    const send = !this.muted && (!this.pushToTalk || this.talking === true);
    if (this.sending && !send && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "end_turn" })); // the microphone closed mid-turn
    }
    this.sending = send;
    this.capture?.port.postMessage({ send });
  }

  setMuted(muted) {
    this.muted = muted;
    this.updateSending();
  }

  /** Push-to-talk: the microphone sends only while `talk(true)` (space or the button held). */
  setPushToTalk(on) {
    this.pushToTalk = on;
    this.talking = false;
    this.updateSending();
  }

  talk(on) {
    this.talking = on;
    this.updateSending();
  }

  /** Typed text during the call: stored as a typed message, answered by voice. */
  sendText(text) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type: "text", text }));
    return true;
  }

  /** End the call: the server lets a reply under way finish, sends "stopped" and closes. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.capture?.port.postMessage({ send: false });
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.events.state?.("stopping");
      this.ws.send(JSON.stringify({ type: "stop" }));
      setTimeout(() => this.ws?.readyState === WebSocket.OPEN && this.ws.close(NORMAL, "done"), 8000);
    } else {
      this.release();
    }
  }

  /** Microphone off now; the audio closes once the jitter buffer has played out (at most 10 s). */
  releaseAfterPlayback() {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.closing = true;
    this.playback?.port.postMessage({ drain: true });
    setTimeout(() => this.release(), 10_000);
  }

  /** Microphone off and audio closed; the socket is closed if still open. */
  release() {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    if (this.context && this.context.state !== "closed") this.context.close().catch(() => {});
    this.capture = null;
    this.playback = null;
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.stopped) this.ws.close(NORMAL, "done");
  }
}

export { SERVER_RESTART };
