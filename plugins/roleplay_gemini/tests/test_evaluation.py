"""chat.model = "gemini" and evaluator.model = "gemini": a spoken session is judged by Gemini (REST shapes)."""

from __future__ import annotations

from roleplay_gemini.testserver import tone
from starlette.testclient import TestClient

from roleplay_core.testing import auth_headers, make_app

from .conftest import needs_chat, needs_evaluator


@needs_chat
@needs_evaluator
def test_spoken_session_is_evaluated_by_the_gemini_judge(gemini):
    gemini.fake.transcripts = ["Welcome Priya, could you tell me about a project you coordinated?"]
    settings = {**gemini.settings(), "chat.model": "gemini", "evaluator.model": "gemini",
                "evaluator.inline_wait": 20.0, "chat.limits.sessions_per_day": 0}
    with TestClient(make_app(settings)) as client:
        headers = auth_headers(client.app, "u-eval")
        session_id = client.post("/chat/sessions", json={"scenario_id": "behavioural-job-interview"},
                                 headers=headers).json()["id"]
        with client.websocket_connect(f"/chat/sessions/{session_id}/voice") as ws:
            ws.send_json({"type": "auth", "token": headers["Authorization"].removeprefix("Bearer ")})
            ws.receive_json()
            ws.send_json({"type": "start", "sample_rate": 16000})
            speech = tone(440, 400, 16000) + bytes(16000)
            for i in range(0, len(speech), 640):
                ws.send_bytes(speech[i:i + 640])
            while True:
                message = ws.receive()
                if message.get("text") and '"turn_complete"' in message["text"]:
                    break
        # A typed turn too: chat.model = "gemini" plays the character over REST streaming.
        typed = client.post(f"/chat/sessions/{session_id}/messages", json={"text": "What was the result?"},
                            headers=headers)
        assert typed.status_code == 201, typed.text
        assert "What was the result?" in typed.text and "hears you say" in typed.text
        response = client.post("/evaluations", json={"session_id": session_id}, headers=headers)
        assert response.status_code == 201, response.text
        report = response.json()["report"]
    rapport = next(c for c in report["criteria"] if c["criterion_id"] == "rapport")
    assert rapport["method"] == "model"
    judged = [r for r in gemini.fake.rest_requests if r["method"] == "generateContent"]
    assert judged and "Welcome Priya" in judged[-1]["body"]["contents"][0]["parts"][0]["text"]
    assert rapport["evidence"] and "Welcome Priya" in rapport["evidence"][0]["quote"]
