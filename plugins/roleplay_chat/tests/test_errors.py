"""Chat's domain errors reach clients through one mapping per edge (issue 14, item 7).

Test home of ``roleplay_chat.errors``. The same refusal reads the same as an HTTP problem and as
a WebSocket error frame; the domain modules raise domain errors and know no URL and no problem.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chat_support import FlakyPlugin, User, build_app
from roleplay_chat import errors
from starlette.testclient import TestClient

PACKAGE = Path(errors.__file__).parent
#: Chat's domain: what it does, not how a client hears of it.
DOMAIN = ("turns.py", "sessions.py", "limits.py", "quota.py", "resume.py", "engine.py", "matching.py")


@pytest.mark.parametrize("name", DOMAIN)
def test_the_domain_raises_no_problem_and_knows_no_url(name):
    source = (PACKAGE / name).read_text()
    assert not re.search(r"\bProblem\b|validation_problem|send_json|\"type\": \"error\"", source), name
    # A URL path starts with /; storage keys (chat/sessions/...) do not.
    assert not re.search(r"[\"'\s]/chat/sessions/", source), f"{name} spells a URL; errors.py adds links"


def test_one_refusal_reads_the_same_over_http_and_the_websocket():
    plugin = FlakyPlugin()
    app = build_app({"chat.model": "flaky", "chat.reply_timeout": 0.3}, plugins=[plugin])
    with TestClient(app) as client:
        user = User(client, "u")
        sid = user.start("test-quiet")["id"]
        plugin.provider.mode = "fail"
        failed = user.post(f"/chat/sessions/{sid}/messages", json={"text": "Hi"})
        assert failed.status_code == 502 and failed.json()["retry"] == f"/chat/sessions/{sid}/retry"
        over_http = user.post(f"/chat/sessions/{sid}/messages", json={"text": "Again"})
        assert over_http.status_code == 409
        with client.websocket_connect(f"/chat/sessions/{sid}/ws") as ws:
            ws.send_json({"type": "auth", "token": user.token})
            ws.receive_json(), ws.receive_json()
            ws.send_json({"type": "message", "text": "Again"})
            frame = ws.receive_json()
    problem = over_http.json()
    assert frame["type"] == "error"
    assert {k: frame[k] for k in ("status", "code", "detail", "pending_seq")} == \
        {k: problem[k] for k in ("status", "code", "detail", "pending_seq")}
    assert problem["code"] == "reply_pending" and problem["pending_seq"] == 1
    assert problem["detail"] == f"Message 1 is still waiting for its reply; POST /chat/sessions/{sid}/retry first."
    assert over_http.headers["content-type"] == "application/problem+json"


def test_the_mappings_carry_every_fact_and_pick_the_close_code():
    busy = errors.SessionBusy("Wait.", retry_after=2.1)
    problem = errors.problem(busy)
    assert (problem.status, problem.headers, problem.extra) == (409, {"Retry-After": "3"},
                                                                {"code": "session_busy", "retry_after": 3})
    assert errors.frame(busy) == {"type": "error", "status": 409, "code": "session_busy", "detail": "Wait.",
                                  "retry_after": 3}
    invalid = errors.Invalid("text", "must not be blank")
    assert errors.problem(invalid).to_dict()["errors"] == [{"field": "text", "message": "must not be blank"}]
    assert errors.frame(invalid)["field"] == "text"
    assert [errors.close_code(e) for e in (errors.BadFrame("x"), errors.NotOwner("x"), errors.SessionMissing("x"),
                                           errors.SessionEnded("x"), errors.RateLimited("x", "y"),
                                           errors.VoiceRefused(502, "provider_error", "x"))] == \
        [4400, 4403, 4404, 4409, 4429, 4503]
