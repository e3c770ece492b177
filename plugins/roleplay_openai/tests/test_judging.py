"""Judging through the real openai client: strict json_schema, the json_object and text fallbacks of servers
without it, malformed answers, and the settings and start-up checks.

Test home of ``roleplay_openai.plugin``.
"""

from __future__ import annotations

import json

import pytest

from roleplay_core import JudgeRequest, Kernel, PluginError, ProviderError, SettingsError, build_judge_prompt

from .conftest import SCRIPT, message, openai_kernel

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_openai_clients")]

HISTORY = (
    message(1, "character", "My kettle broke after a week!", "sam"),
    message(2, "learner", "I am sorry to hear that, can you tell me what happened?"),
)
REQUEST = JudgeRequest(script=SCRIPT, criteria=SCRIPT.rubric.criteria, transcript=HISTORY)


def formats(fake) -> list[str | None]:
    return [(r["body"].get("response_format") or {}).get("type") for r in fake.judge_requests()]


async def judge(provider, request=REQUEST):
    try:
        return await provider.judge(request)
    finally:
        await provider.close()


async def test_judge_sends_the_kernel_prompt_with_a_strict_json_schema(server, fake):
    provider = openai_kernel(server, **{"openai.judge_model": "judge-model"}).model("openai")
    judgement = await judge(provider)
    assert [(c.criterion_id, c.score) for c in judgement.criteria] == [("empathy", 80.0), ("resolve", 70.0)]
    assert judgement.model == "openai:judge-model"
    assert judgement.criteria[0].evidence[0].seq == 2
    assert judgement.criteria[0].evidence[0].quote in HISTORY[1].text
    assert len(fake.judge_requests()) == 1, "every criterion is judged in one call"
    body = fake.judge_requests()[0]["body"]
    prompt = build_judge_prompt(REQUEST)
    assert body["model"] == "judge-model" and body["temperature"] == 0.0
    assert body["messages"] == [{"role": "system", "content": prompt.instruction},
                                {"role": "user", "content": prompt.text}]
    spec = body["response_format"]
    assert spec["type"] == "json_schema" and spec["json_schema"]["strict"] is True
    schema = spec["json_schema"]["schema"]
    item = schema["properties"]["criteria"]["items"]
    assert schema["additionalProperties"] is False and item["additionalProperties"] is False
    assert item["properties"]["criterion_id"]["enum"] == ["empathy", "resolve"]
    assert item["properties"]["evidence"]["items"]["additionalProperties"] is False
    assert prompt.schema["properties"]["criteria"]["items"].get("additionalProperties") is None, \
        "the kernel's shared schema is left as it is"


async def test_judge_defaults_to_the_reply_model(server, fake):
    await judge(openai_kernel(server, **{"openai.model": "one-model", "openai.judge_model": ""}).model("openai"))
    assert fake.judge_requests()[0]["body"]["model"] == "one-model"


async def test_server_without_json_schema_falls_back_to_json_object_once(server, fake):
    fake.mode = "ollama"
    provider = openai_kernel(server).model("openai")
    first = await provider.judge(REQUEST)
    second = await judge(provider)
    assert [c.score for c in first.criteria] == [c.score for c in second.criteria] == [80.0, 70.0]
    # The refusal is learnt: the second judgement goes straight to json_object.
    assert formats(fake) == ["json_schema", "json_object", "json_object"]
    system = fake.judge_requests()[1]["body"]["messages"][0]["content"]
    assert '"criterion_id"' in system and "JSON schema" in system, "the schema travels in the prompt"


async def test_server_without_response_format_is_answered_in_text_parsed_strictly(server, fake):
    fake.mode = "plain"
    judgement = await judge(openai_kernel(server).model("openai"))
    assert [c.criterion_id for c in judgement.criteria] == ["empathy", "resolve"]
    assert formats(fake) == ["json_schema", "json_object", None]


def _answer(**changes):
    item = {"criterion_id": "empathy", "score": 90, "justification": "ok", "evidence": [], "suggestion": ""}
    item.update(changes)
    return json.dumps({"criteria": [item]})


@pytest.mark.parametrize("mode", ["openai", "plain"])
async def test_malformed_answers_are_retried_then_a_provider_error(server, fake, mode):
    fake.mode = mode
    request = JudgeRequest(script=SCRIPT, criteria=SCRIPT.rubric.criteria[:1], transcript=HISTORY)
    provider = openai_kernel(server, **{"openai.judge_attempts": 2}).model("openai")
    fake.judge_override = ['{"criteria": [{"criterion_id": "empathy", "score": 9', _answer(score=55)]
    assert (await provider.judge(request)).criteria[0].score == 55.0
    for bad in ([_answer(score=150), _answer(criterion_id="other")], [_answer(extra="x"), "no json at all"]):
        fake.judge_override = list(bad)
        with pytest.raises(ProviderError, match="not valid after 2 attempts"):
            await provider.judge(request)
    await provider.close()


async def test_pinned_json_schema_on_a_server_without_it_is_a_provider_error(server, fake):
    fake.mode = "ollama"
    with pytest.raises(ProviderError, match="400"):
        await judge(openai_kernel(server, **{"openai.judge_format": "json_schema"}).model("openai"))


async def test_judge_call_failure_is_a_provider_error(server, fake):
    fake.fail_next = [500]
    with pytest.raises(ProviderError, match="500"):
        await judge(openai_kernel(server).model("openai"))


SECRET = "kq3V9xZp2Lr8Tn5Wb7Yc1Md4Fg6Hj0Sa-Ue_Io"  # a production-grade jwt secret, so only openai problems remain
BASE = {"storage.backend": "memory", "security.jwt_secret": SECRET}


@pytest.mark.parametrize(("key", "value"), [
    ("openai.timeout", "abc"), ("openai.timeout", 0), ("openai.max_retries", -1), ("openai.max_retries", 1.5),
    ("openai.temperature", -1), ("openai.judge_attempts", 0), ("openai.max_tokens", None),
    ("openai.base_url", "ftp://x"), ("openai.azure.endpoint", "x.openai.azure.com"),
    ("openai.judge_format", "yaml"), ("openai.extra_headers", "X-A: b"), ("openai.ca_file", "/nope.pem"),
    ("openai.realtime.silence_duration_ms", "long"), ("openai.realtime.max_reconnects", -1),
    ("openai.realtime.frame_ms", 0),
])
def test_bad_settings_are_problems_naming_the_key(key, value):
    with pytest.raises(SettingsError) as caught:
        Kernel.create(env="production", settings_files=[], overrides={**BASE, key: value})
    assert key in str(caught.value)


@pytest.mark.parametrize("key", ["chat.model", "evaluator.model", "chat.voice.model"])
def test_a_key_is_required_for_openai_itself_not_for_a_local_server(key, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(SettingsError) as caught:
        Kernel.create(env="production", settings_files=[], overrides={**BASE, key: "openai", "openai.api_key": ""})
    assert "openai.api_key" in str(caught.value) and key in str(caught.value)
    local = {**BASE, key: "openai", "openai.api_key": "", "openai.base_url": "http://127.0.0.1:11434/v1"}
    assert Kernel.create(env="production", settings_files=[], overrides=local).settings.get(key) == "openai"


async def test_production_start_up_probes_the_server(server, fake):
    settings = {**BASE, **server.settings(), "evaluator.model": "openai"}
    kernel = Kernel.create(env="production", settings_files=[], overrides=settings)
    fake.mode = "ollama"
    await kernel.start()  # auto: a server without json_schema is fine, the judge starts at json_object
    assert [(r["body"].get("response_format") or {}).get("type") for r in fake.requests] == ["json_schema",
                                                                                            "json_object"]
    assert kernel.model("openai").judge_formats == ["json_object", "text"]
    await kernel.stop()

    pinned = Kernel.create(env="production", settings_files=[], overrides={**settings, "openai.judge_format": "json_schema"})
    with pytest.raises(PluginError, match="does not support response_format json_schema.*evaluator.model"):
        await pinned.start()

    wrong_key = Kernel.create(env="production", settings_files=[], overrides={**settings, "openai.api_key": "bad"})
    with pytest.raises(PluginError, match="refused openai.api_key"):
        await wrong_key.start()


def test_an_api_key_in_settings_toml_is_refused_outside_development(tmp_path, monkeypatch):
    monkeypatch.delenv("ROLEPLAY_SETTINGS_FILES", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "settings.toml").write_text('[production.openai]\napi_key = "sk-in-the-repo"\n')
    with pytest.raises(SettingsError) as caught:
        Kernel.create(env="production", overrides=BASE)
    assert "openai.api_key" in str(caught.value) and "settings.toml" in str(caught.value)
    (tmp_path / "settings.toml").write_text('[production.openai]\nmodel = "gpt-4o"\n')
    (tmp_path / ".secrets.toml").write_text('[production.openai]\napi_key = "sk-secret"\n')
    kernel = Kernel.create(env="production", overrides=BASE)
    assert kernel.settings.get("openai.api_key") == "sk-secret"
