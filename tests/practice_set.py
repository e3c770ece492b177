"""The labelled practice set (tests/practices/*.yaml): load it, play it, score it.

Each file holds practices of one shipped script, written by people who never
saw the script's triggers or checks, each labelled strong, mediocre or poor,
with per-criterion expectations where they are clear. :func:`score_all` plays
every practice through chat's real HTTP API with the offline ``scripted``
character (a practice stops where the character ends the scene, as a learner
would), ends the session, and evaluates it over HTTP with no language model.

``python tests/practice_set.py`` prints the score table.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import attrs
import yaml

PRACTICES = Path(__file__).parent / "practices"
LEVELS = ("strong", "mediocre", "poor")
#: Playing needs the plugin that owns sessions (chat) and the one that scores them (evaluator).
INSTALLED = all(importlib.metadata.entry_points(group="roleplay", name=name) for name in ("chat", "evaluator"))


@attrs.frozen
class Practice:
    script_id: str
    id: str
    level: str
    persona: str
    turns: tuple[str, ...]
    expect: dict[str, str]
    #: Why the rules still misjudge this practice's level, when they do (a known gap, kept visible:
    #: tests/test_practice_set.py fails when it is fixed, so the label gets removed).
    known_gap: str | None = None


@attrs.frozen
class Scored:
    practice: Practice
    overall: int
    passed: bool
    passing_score: int
    #: Criterion id -> score (None: not scored, for example a model check without a model).
    scores: dict[str, float | None]
    turns_played: int
    end_reason: str | None


def practices() -> list[Practice]:
    found = []
    for path in sorted(PRACTICES.glob("*.yaml")):
        data = yaml.load(path.read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        for item in data["practices"]:
            found.append(Practice(script_id=data["script"], id=item["id"], level=item["level"],
                                  persona=item.get("persona", ""), turns=tuple(item["turns"]),
                                  expect=dict(item.get("expect") or {}), known_gap=item.get("known_gap")))
    return found


async def play(client: Any, headers: dict[str, str], practice: Practice) -> tuple[str, int]:
    """Practise over chat's HTTP API until the turns run out or the scene ends: (session id, turns said)."""
    response = await client.post("/chat/sessions", json={"scenario_id": practice.script_id}, headers=headers)
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    said = 0
    for text in practice.turns:
        sent = await client.post(f"/chat/sessions/{session_id}/messages", json={"text": text}, headers=headers)
        if sent.status_code == 409 and sent.json().get("code") == "session_ended":
            break
        assert sent.status_code == 201, sent.text
        said += 1
        if sent.json()["session"]["status"] == "ended":
            break
    ended = await client.post(f"/chat/sessions/{session_id}/end", headers=headers)
    # Ending is idempotent: a session the character already ended answers 200 with its summary too.
    assert ended.status_code == 200 and ended.json()["status"] == "ended", ended.text
    return session_id, said


def score_all() -> list[Scored]:
    """Every practice played and evaluated over HTTP, in order."""
    import asyncio

    return asyncio.run(_score_all())


async def _score_all() -> list[Scored]:
    import httpx

    from roleplay_core.testing import auth_headers, make_app

    # Every installed plugin, no fakes; no model configured, so the rules score everything offline.
    app = make_app({"chat.limits.messages_per_minute": 0, "chat.limits.sessions_per_day": 0,
                    "evaluator.inline_wait": 10})
    scored = []
    # In-process HTTP on one event loop (the app's own lifespan runs around it): the same requests
    # as a TestClient's, without a thread hop per request.
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://practice.test") as client:
        for n, practice in enumerate(practices()):
            headers = auth_headers(app, f"learner-{n}")
            session_id, said = await play(client, headers, practice)
            response = await client.post("/evaluations", json={"session_id": session_id}, headers=headers)
            assert response.status_code == 201, response.text
            report = response.json()["report"]
            session = (await client.get(f"/chat/sessions/{session_id}", headers=headers)).json()
            scored.append(Scored(practice, report["overall_score"], report["passed"], report["passing_score"],
                                 {c["criterion_id"]: c["score"] for c in report["criteria"]}, said,
                                 session.get("end_reason")))
    return scored


def table(results: list[Scored]) -> str:
    lines = ["| script | practice | level | score | passed | turns | criteria |", "|---|---|---|---|---|---|---|"]
    for r in results:
        criteria = " ".join(f"{k}={'-' if v is None else f'{v:g}'}" for k, v in r.scores.items())
        lines.append(f"| {r.practice.script_id} | {r.practice.id} | {r.practice.level} | {r.overall} | "
                     f"{'yes' if r.passed else 'no'} | {r.turns_played}/{len(r.practice.turns)} | {criteria} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import os

    os.environ.setdefault("ROLEPLAY_ENV", "development")
    print(table(score_all()))
