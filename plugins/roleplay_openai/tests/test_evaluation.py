"""End to end over HTTP: chat.model = "openai" plays the character in a typed session and
evaluator.model = "openai" judges it, against the local server through the real openai client."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers, make_app

from .conftest import needs_chat, needs_evaluator

pytestmark = [needs_chat, needs_evaluator]

LINES = ["Welcome Priya, could you tell me about a project you coordinated?", "What was the result?"]


def practise(client: TestClient, headers: dict[str, str]) -> str:
    session_id = client.post("/chat/sessions", json={"scenario_id": "behavioural-job-interview"},
                             headers=headers).json()["id"]
    for line in LINES:
        typed = client.post(f"/chat/sessions/{session_id}/messages", json={"text": line}, headers=headers)
        assert typed.status_code in (200, 201), typed.text
        assert f"hears you say: {line}" in typed.text, "the reply came from the openai provider"
    return session_id


@pytest.mark.parametrize("mode", ["openai", "ollama"])
def test_typed_session_played_and_judged_by_openai(server, mode):
    server.fake.mode = mode  # ollama: no json_schema, the judge falls back to json_object
    settings = {**server.settings(), "chat.model": "openai", "evaluator.model": "openai",
                "evaluator.inline_wait": 20.0, "chat.limits.sessions_per_day": 0}
    with TestClient(make_app(settings)) as client:
        headers = auth_headers(client.app, "u-eval")
        session_id = practise(client, headers)
        replies = [r for r in server.fake.requests if r["body"].get("stream")]
        assert len(replies) == 2 and replies[-1]["body"]["messages"][-1]["content"] == LINES[-1]
        response = client.post("/evaluations", json={"session_id": session_id}, headers=headers)
        assert response.status_code == 201, response.text
        report = response.json()["report"]
    judged = server.fake.judge_requests()
    wanted = ["json_schema"] if mode == "openai" else ["json_schema", "json_object"]
    assert [(r["body"].get("response_format") or {}).get("type") for r in judged] == wanted
    assert "Welcome Priya" in judged[-1]["body"]["messages"][1]["content"]
    by_method = {c["criterion_id"]: c["method"] for c in report["criteria"]}
    assert "model" in by_method.values(), by_method
    rapport = next(c for c in report["criteria"] if c["criterion_id"] == "rapport")
    assert rapport["method"] == "model"
    # The quote the model gave was checked against the transcript and kept, verbatim.
    assert rapport["evidence"] and rapport["evidence"][0]["quote"] in LINES[0]


def test_judge_failure_falls_back_to_rules(server):
    server.fake.judge_override = ["not json", "still not json"]
    settings = {**server.settings(), "chat.model": "openai", "evaluator.model": "openai",
                "evaluator.inline_wait": 20.0, "chat.limits.sessions_per_day": 0}
    with TestClient(make_app(settings)) as client:
        headers = auth_headers(client.app, "u-fallback")
        session_id = practise(client, headers)
        response = client.post("/evaluations", json={"session_id": session_id}, headers=headers)
        assert response.status_code == 201, response.text
        report = response.json()["report"]
    assert len(server.fake.judge_requests()) == 2  # openai.judge_attempts
    assert all(c["method"] != "model" for c in report["criteria"]), report["criteria"]
