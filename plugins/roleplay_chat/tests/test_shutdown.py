"""Graceful shutdown and rolling restarts, with real server processes on one file-storage root.

SIGTERM: new requests get 503, chat WebSockets get a ``reconnect`` frame and close
code 1012, the reply in flight is finished and stored, then the process exits. A
rolling restart of two servers under steady chat traffic loses no acknowledged
message and leaves no message without its reply.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx

from roleplay_core.testing import ServerProcess, auth_headers, make_app

TESTS = str(Path(__file__).parent)


def settings(root: Path, delay: float) -> dict:
    return {"storage.backend": "file", "storage.file.root": str(root), "storage.file.fsync": False,
            "chat.model": "test-slow", "test_model.delay": delay, "chat.reply_timeout": 30.0, "chat.seed": 7,
            "chat.limits.messages_per_minute": 0, "chat.limits.sessions_per_day": 0, "server.drain_seconds": 20}


def server(root: Path, delay: float) -> ServerProcess:
    return ServerProcess(settings(root, delay), plugins=("chat_support:ExtraScripts",), pythonpath=(TESTS,))


def test_sigterm_finishes_the_reply_in_flight_and_tells_sockets_to_reconnect(tmp_path):
    import websockets

    process = server(tmp_path, delay=2.0).wait_ready()
    headers = auth_headers(make_app(settings(tmp_path, 0)), "alice")
    token = headers["Authorization"].removeprefix("Bearer ")
    try:
        sid = httpx.post(f"{process.base}/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers,
                         timeout=10).json()["id"]
        other = httpx.post(f"{process.base}/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers,
                           timeout=10).json()["id"]
        in_flight: dict = {}

        def post() -> None:
            response = httpx.post(f"{process.base}/chat/sessions/{sid}/messages", json={"text": "in flight"},
                                  headers=headers, timeout=30)
            in_flight["status"], in_flight["body"] = response.status_code, response.json()

        async def socket_sees_restart() -> tuple[list, int | None]:
            url = f"ws://127.0.0.1:{process.port}/chat/sessions/{other}/ws"
            async with websockets.connect(url) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                frames = [json.loads(await ws.recv())]  # ready
                poster.start()
                await asyncio.sleep(0.5)  # the HTTP turn is under way
                process.process.terminate()  # SIGTERM
                try:
                    while True:
                        frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                except websockets.ConnectionClosed as closed:
                    return frames, closed.rcvd.code if closed.rcvd else None

        poster = threading.Thread(target=post)
        frames, code = asyncio.run(socket_sees_restart())
        assert code == 1012
        assert frames[-1]["type"] == "reconnect" and frames[-1]["code"] == "server_restarting"
        # New work is refused while the reply in flight finishes (or the port is closed already).
        try:
            late = httpx.get(f"{process.base}/chat/sessions/{sid}", headers=headers, timeout=5)
            assert late.status_code == 503 and late.json()["code"] == "server_draining"
            assert late.headers["Retry-After"] == "1"
        except httpx.TransportError:
            pass
        poster.join(30)
        assert in_flight["status"] == 201, in_flight
        assert in_flight["body"]["reply"]["text"] == "Hm, you said 'in flight'."
        assert process.process.wait(30) in (0, -15)
    finally:
        process.kill()
    # The next server on the same storage sees the stored reply and a free session.
    successor = server(tmp_path, delay=0).wait_ready()
    try:
        stored = httpx.get(f"{successor.base}/chat/sessions/{sid}", headers=headers, timeout=10).json()
        assert stored["awaiting_reply"] is None
        assert [m["text"] for m in stored["messages"]][-2:] == ["in flight", "Hm, you said 'in flight'."]
    finally:
        successor.stop()


class Pool:
    """The servers a load balancer would send to: live bases, replaced as servers restart."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = list(bases)
        self.lock = threading.Lock()
        self.turn = 0

    def pick(self) -> str:
        with self.lock:
            self.turn += 1
            return self.bases[self.turn % len(self.bases)]

    def replace(self, old: str, new: str | None) -> None:
        with self.lock:
            self.bases = [b for b in self.bases if b != old] + ([new] if new else [])


def steady_client(pool: Pool, headers: dict, sid: str, stop: threading.Event, acked: list, errors: list) -> None:
    """Send one message after another, retrying elsewhere whenever a server is going away."""
    n = 0
    while not stop.is_set():
        n += 1
        text = f"{sid[-6:]} message {n}"
        path, body = f"/chat/sessions/{sid}/messages", {"text": text}
        for _ in range(200):
            base = pool.pick()
            try:
                response = httpx.post(base + path, json=body, headers=headers, timeout=40)
            except httpx.TransportError:
                time.sleep(0.05)
                continue  # not acknowledged: send it again (elsewhere)
            code = response.json().get("code") if response.status_code >= 400 else None
            if response.status_code == 201 and path.endswith("/retry"):
                path, body = f"/chat/sessions/{sid}/messages", {"text": text}
                continue
            if response.status_code == 201:
                acked.append((sid, text))
                break
            if response.status_code == 503:
                time.sleep(0.05)
            elif code == "reply_pending":
                path, body = f"/chat/sessions/{sid}/retry", None
            elif code == "session_busy":
                time.sleep(int(response.headers["Retry-After"]))
            else:
                errors.append(f"{response.status_code} {response.text}")
                return
        else:
            errors.append(f"{text} was never accepted")
            return


def test_rolling_restart_under_steady_traffic_loses_no_acknowledged_message(tmp_path):
    servers = [server(tmp_path, delay=0.3), server(tmp_path, delay=0.3)]
    for process in servers:
        process.wait_ready()
    headers = auth_headers(make_app(settings(tmp_path, 0)), "alice")
    pool = Pool([p.base for p in servers])
    sids = [httpx.post(f"{servers[0].base}/chat/sessions", json={"scenario_id": "test-quiet"}, headers=headers,
                       timeout=10).json()["id"] for _ in range(4)]
    stop, acked, errors = threading.Event(), [], []
    clients = [threading.Thread(target=steady_client, args=(pool, headers, sid, stop, acked, errors)) for sid in sids]
    try:
        for client in clients:
            client.start()
        time.sleep(1.5)
        for n, old in enumerate(list(servers)):  # one at a time, as a rolling restart does
            before = len(acked)
            old.terminate(60)  # SIGTERM and wait for the exit
            pool.replace(old.base, None)
            new = server(tmp_path, delay=0.3).wait_ready()
            servers[n] = new
            pool.replace("", new.base)
            time.sleep(1.5)
            assert len(acked) > before, "traffic stopped during the restart"
        stop.set()
        for client in clients:
            client.join(60)
        assert not errors, errors[:3]
        lost, unanswered = [], []
        for sid in sids:
            session = httpx.get(f"{servers[0].base}/chat/sessions/{sid}", headers=headers, timeout=10).json()
            messages = session["messages"]
            texts = [m["text"] for m in messages if m["role"] == "learner"]
            lost += [text for s, text in acked if s == sid and text not in texts]
            assert session["awaiting_reply"] is None
            for at, message in enumerate(messages):
                if message["role"] == "learner" and (at + 1 == len(messages) or messages[at + 1]["role"] != "character"):
                    unanswered.append(message["text"])
            assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        print(f"\nrolling restart: {len(acked)} acknowledged messages, {len(lost)} lost, {len(unanswered)} unanswered")
        assert lost == [] and unanswered == []
        assert len(acked) >= 20
    finally:
        stop.set()
        for process in servers:
            process.kill()
