// The practice session over one WebSocket (docs/api/chat.md, "WebSocket"):
// auth in the first frame (never in the URL), then resume from the last message we have,
// then message / delta / final message / ended frames.

import { chat, refresh } from "./api.js";
import { accessToken } from "./tokens.js";

const UNAUTHORIZED = 4401;
const CONNECT_TIMEOUT_MS = 8000;

export class SocketRefused extends Error {
  constructor(code, reason) {
    super(reason || `the socket closed (${code})`);
    this.code = code;
  }
}

/**
 * Open the session's socket and resume after `afterSeq`. Resolves to a ChatSocket once the
 * server has replayed what we missed; rejects with SocketRefused when it cannot get there.
 * `onFrame(frame)` gets every frame after authentication; `onClose(event)` a close after that.
 */
export async function connect(sessionId, afterSeq, onFrame, onClose) {
  try {
    return await attempt(sessionId, afterSeq, onFrame, onClose);
  } catch (error) {
    // An expired access token: refresh once and try again (the socket checks it only at the start).
    if (error instanceof SocketRefused && error.code === UNAUTHORIZED && (await refresh())) {
      return attempt(sessionId, afterSeq, onFrame, onClose);
    }
    throw error;
  }
}

function attempt(sessionId, afterSeq, onFrame, onClose) {
  return new Promise((resolve, reject) => {
    let ws;
    try {
      ws = new WebSocket(chat.socketUrl(sessionId));
    } catch (error) {
      reject(new SocketRefused(0, String(error)));
      return;
    }
    const socket = new ChatSocket(ws);
    let settled = false;
    const timer = setTimeout(() => {
      if (!settled) {
        settled = true;
        ws.close();
        reject(new SocketRefused(0, "the live connection timed out"));
      }
    }, CONNECT_TIMEOUT_MS);

    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: accessToken() || "" }));
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "authenticated") socket.renewBefore(frame.expires_at);
      if (!settled) {
        if (frame.type === "ready") {
          ws.send(JSON.stringify({ type: "resume", after_seq: afterSeq }));
          onFrame(frame);
        } else if (frame.type === "resumed") {
          settled = true;
          clearTimeout(timer);
          onFrame(frame);
          resolve(socket);
        } else if (frame.type === "message") {
          onFrame(frame); // a message we missed, replayed by resume
        }
        // "authenticated" needs nothing; an error frame here precedes a close, whose code decides
        return;
      }
      onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      clearTimeout(timer);
      clearTimeout(socket.renewTimer);
      if (!settled) {
        settled = true;
        reject(new SocketRefused(event.code, event.reason));
        return;
      }
      socket.open = false;
      if (!socket.closedByUs) onClose(event);
    });
  });
}

export class ChatSocket {
  constructor(ws) {
    this.ws = ws;
    this.open = true;
    this.closedByUs = false;
    this.renewTimer = undefined;
  }

  /**
   * The server closes the socket (4401) when its access token expires: a minute before that,
   * refresh the token and send it in-band, {"type": "auth", "token": ...} (docs/api/chat.md).
   */
  renewBefore(expiresAt) {
    clearTimeout(this.renewTimer);
    if (!expiresAt) return;
    const delay = Math.max(1000, expiresAt * 1000 - Date.now() - 60_000);
    this.renewTimer = setTimeout(async () => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      // The socket may have closed while the refresh was under way (signed out, page left).
      if ((await refresh()) && this.ws?.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: "auth", token: accessToken() || "" }));
      }
    }, delay);
  }

  /** Send a frame; false when the socket is no longer open. */
  send(frame) {
    if (!this.open || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  close() {
    this.closedByUs = true;
    this.open = false;
    clearTimeout(this.renewTimer);
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
  }
}
