"""Helpers for the chat plugin's tests: an app with the test scripts, a signed-in API user."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

from starlette.testclient import TestClient

from roleplay_core import ModelProvider, ProviderError, Reply, ReplyDelta, ReplyRequest, hookimpl
from roleplay_core.testing import auth_headers, make_app

SCRIPTS = pathlib.Path(__file__).parent / "scripts"


class ExtraScripts:
    """Adds the test scripts under tests/scripts as a script pack."""

    @hookimpl
    def register_script_packs(self):
        return [SCRIPTS]


BASE_SETTINGS: dict[str, Any] = {
    "chat.seed": 7,
    "chat.limits.messages_per_minute": 0,
    "chat.limits.sessions_per_day": 0,
}



def build_app(overrides: dict[str, Any] | None = None, plugins: list[Any] = ()):
    """An app on memory storage with the test scripts; ``overrides`` are dotted settings."""
    return make_app({**BASE_SETTINGS, **(overrides or {})}, plugins=[ExtraScripts(), *plugins])


class User:
    """A signed-in user driving the API through a TestClient."""

    def __init__(self, client: TestClient, user_id: str, roles: tuple[str, ...] = ("user",)) -> None:
        self.client = client
        self.id = user_id
        self.headers = auth_headers(client.app, user_id, roles)
        self.token = self.headers["Authorization"].removeprefix("Bearer ")

    def start(self, scenario_id: str = "test-bakery", **body: Any) -> dict[str, Any]:
        response = self.client.post("/chat/sessions", json={"scenario_id": scenario_id, **body}, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def say(self, session_id: str, text: str, expect: int = 201) -> dict[str, Any]:
        response = self.client.post(f"/chat/sessions/{session_id}/messages", json={"text": text},
                                    headers=self.headers)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.get(path, headers={**self.headers, **(headers or {})}, **kwargs)

    def post(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.post(path, headers={**self.headers, **(headers or {})}, **kwargs)

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)

    def session(self, session_id: str) -> dict[str, Any]:
        response = self.get(f"/chat/sessions/{session_id}")
        assert response.status_code == 200, response.text
        return response.json()


def assert_gapless(messages: list[dict[str, Any]]) -> None:
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(1, len(seqs) + 1)), seqs


class FlakyProvider(ModelProvider):
    """A test provider whose behaviour the test switches: ``ok``, ``slow``, ``fail``, ``delayed``."""

    name = "flaky"
    capabilities = frozenset({"reply"})

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls = 0
        #: Seconds a "delayed" reply takes.
        self.delay = 0.4

    async def reply(self, request: ReplyRequest):
        self.calls += 1
        learner = request.history[-1]
        if self.mode == "slow":
            yield ReplyDelta("Let me think")
            await asyncio.sleep(30)
        if self.mode == "fail":
            raise ProviderError("the model's quota is exhausted")
        if self.mode == "delayed":
            yield ReplyDelta("Well, ")
            await asyncio.sleep(self.delay)
        turns = int(request.state.get("turns", 0)) + 1
        text = f"Well, you said {learner.text!r} (turn {turns})"
        yield ReplyDelta(text[6:] if self.mode == "delayed" else text)
        yield Reply(text=text, state={"turns": turns})


class FlakyPlugin:
    """Registers one :class:`FlakyProvider` as the model provider ``flaky``."""

    def __init__(self) -> None:
        self.provider = FlakyProvider()

    @hookimpl
    def register_model_providers(self):
        return {"flaky": lambda kernel: self.provider}


def file_app(root: str, overrides: dict[str, Any] | None = None):
    """An app on file storage at ``root`` (several apps or processes can share it)."""
    return build_app({"storage.backend": "file", "storage.file.root": str(root), **(overrides or {})})


def server_app():
    """``uvicorn --factory chat_support:server_app``: file storage at ``$CHAT_TEST_ROOT``."""
    import os

    return file_app(os.environ["CHAT_TEST_ROOT"])
