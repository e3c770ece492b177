"""Text replies and judging through the real google-genai client against the local server (REST shapes).

Test home of ``roleplay_core.models``, ``roleplay_gemini.client``, ``roleplay_gemini.plugin``, ``roleplay_gemini.provider``.
"""

from __future__ import annotations

import json

import pytest

from roleplay_core import JudgeRequest, ProviderError, Reply, ReplyDelta, ReplyRequest, build_judge_prompt
from roleplay_core.testing import make_kernel

from .conftest import SCRIPT, gemini_kernel, message

pytestmark = pytest.mark.anyio

HISTORY = (
    message(1, "character", "My kettle broke after a week!", "sam"),
    message(2, "character", "She is really upset.", "lee"),
    message(3, "learner", "I am sorry to hear that, can you tell me what happened?"),
)


async def test_provider_is_registered_with_capabilities(gemini):
    kernel = gemini_kernel(gemini)
    provider = kernel.model("gemini")
    assert provider.capabilities == {"reply", "judge", "live"}
    assert "gemini" in kernel.model_factories


async def test_reply_streams_deltas_then_one_reply(gemini, fake):
    kernel = gemini_kernel(gemini, **{"gemini.temperature": 0.3, "gemini.text_model": "gemini-test-text",
                                      "gemini.safety_settings": {"HARM_CATEGORY_HARASSMENT": "BLOCK_ONLY_HIGH"}})
    provider = kernel.model("gemini")
    request = ReplyRequest(script=SCRIPT, character=SCRIPT.characters[0], history=HISTORY)
    items = [item async for item in provider.reply(request)]
    await provider.close()
    deltas = [i for i in items if isinstance(i, ReplyDelta)]
    assert len(deltas) > 1, "the answer arrives in several streamed pieces"
    assert isinstance(items[-1], Reply) and sum(isinstance(i, Reply) for i in items) == 1
    assert items[-1].text == "".join(d.text for d in deltas).strip()
    assert items[-1].text == "Sam hears you say: I am sorry to hear that, can you tell me what happened?"
    seen = fake.rest_requests[-1]
    assert (seen["model"], seen["method"], seen["version"]) == ("gemini-test-text", "streamGenerateContent", "v1beta")
    body = seen["body"]
    system = body["systemInstruction"]["parts"][0]["text"]
    assert "You are Sam" in system and "impatient customer" in system and "Refund at the returns desk" in system
    assert body["generationConfig"]["temperature"] == 0.3
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    roles = [c["role"] for c in body["contents"]]
    assert roles[0] == "user" and roles[-1] == "user"  # opened by the character: a user turn goes first
    texts = json.dumps(body["contents"])
    assert "[Lee]: She is really upset." in texts  # another character's line is context, not the model's


async def test_reply_retries_transient_failures(gemini, fake):
    fake.fail_next = [503, 503]
    provider = gemini_kernel(gemini, **{"gemini.retries": 3}).model("gemini")
    items = [i async for i in provider.reply(ReplyRequest(script=SCRIPT, character=SCRIPT.characters[0],
                                                           history=HISTORY))]
    await provider.close()
    assert isinstance(items[-1], Reply)
    assert len(fake.rest_requests) == 3


async def test_reply_failure_is_a_provider_error(gemini, fake):
    provider = make_kernel({**gemini.settings(), "gemini.api_key": "wrong"}).model("gemini")
    with pytest.raises(ProviderError, match="401"):
        async for _ in provider.reply(ReplyRequest(script=SCRIPT, character=SCRIPT.characters[0], history=HISTORY)):
            pass
    await provider.close()


@pytest.fixture(params=["httpx2", "aiohttp"])
def transport(request, monkeypatch) -> str:
    """google-genai sends REST calls with aiohttp when that is installed, else with httpx2: test both."""
    from google.genai import _api_client

    if request.param == "aiohttp":
        pytest.importorskip("aiohttp", reason="aiohttp is not installed (google-genai then uses httpx2, tested too)")
    else:
        # The SDK's own switch (private, so a rename fails this test loudly rather than testing nothing).
        monkeypatch.setattr(_api_client, "has_aiohttp", False)
    return request.param


async def test_untrusted_server_is_refused_without_ca_file(gemini, transport):
    settings = {**gemini.settings(), "gemini.ca_file": "", "gemini.retries": 1, "gemini.judge_attempts": 1}
    provider = make_kernel(settings).model("gemini")
    with pytest.raises(ProviderError, match="(?i)certificate|ssl") as raised:
        async for _ in provider.reply(ReplyRequest(script=SCRIPT, character=SCRIPT.characters[0], history=HISTORY)):
            pass
    # The failure came from the transport under test, turned into a ProviderError (not left to escape).
    assert type(raised.value.__cause__).__module__.split(".")[0] == transport
    with pytest.raises(ProviderError, match="(?i)certificate|ssl"):
        await provider.judge(JudgeRequest(script=SCRIPT, criteria=SCRIPT.rubric.criteria, transcript=HISTORY))
    await provider.close()


async def test_judge_uses_a_json_schema_and_returns_verified_judgements(gemini, fake):
    provider = gemini_kernel(gemini, **{"gemini.judge_model": "gemini-test-judge"}).model("gemini")
    judgement = await provider.judge(JudgeRequest(script=SCRIPT, criteria=SCRIPT.rubric.criteria, transcript=HISTORY))
    await provider.close()
    assert [c.criterion_id for c in judgement.criteria] == ["empathy", "resolve"]
    assert [c.score for c in judgement.criteria] == [80.0, 70.0]
    assert judgement.model == "gemini:gemini-test-judge"
    assert judgement.criteria[0].evidence[0].seq == 3
    assert judgement.criteria[0].evidence[0].quote in HISTORY[2].text
    body = fake.rest_requests[-1]["body"]
    assert fake.rest_requests[-1]["method"] == "generateContent"
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]
    assert schema["properties"]["criteria"]["items"]["properties"]["criterion_id"]["enum"] == ["empathy", "resolve"]
    assert "[3] learner: I am sorry" in body["contents"][0]["parts"][0]["text"]
    # The prompt is the kernel's, so every provider asks the same thing.
    prompt = build_judge_prompt(JudgeRequest(script=SCRIPT, criteria=SCRIPT.rubric.criteria, transcript=HISTORY))
    assert body["systemInstruction"]["parts"][0]["text"] == prompt.instruction
    assert body["contents"][0]["parts"][0]["text"] == prompt.text
    assert schema == prompt.schema


def _answer(**changes):
    item = {"criterion_id": "empathy", "score": 90, "justification": "ok", "evidence": [], "suggestion": ""}
    item.update(changes)
    return json.dumps({"criteria": [item]})


async def test_judge_retries_a_malformed_answer_then_gives_up(gemini, fake):
    criteria = SCRIPT.rubric.criteria[:1]
    provider = gemini_kernel(gemini, **{"gemini.judge_attempts": 2}).model("gemini")
    fake.judge_override = ["not json", _answer(score=55)]
    judgement = await provider.judge(JudgeRequest(script=SCRIPT, criteria=criteria, transcript=HISTORY))
    assert judgement.criteria[0].score == 55.0
    fake.judge_override = [_answer(score=150), _answer(criterion_id="other")]
    with pytest.raises(ProviderError, match="not valid after 2 attempts"):
        await provider.judge(JudgeRequest(script=SCRIPT, criteria=criteria, transcript=HISTORY))
    fake.judge_override = [_answer(extra="field"), _answer(extra="field")]
    with pytest.raises(ProviderError):
        await provider.judge(JudgeRequest(script=SCRIPT, criteria=criteria, transcript=HISTORY))
    await provider.close()


async def test_judge_passes_quotes_through_for_the_evaluator_to_check(gemini, fake):
    # The evaluator checks every quote against the transcript and tells the reader how many it dropped;
    # the provider must not drop them first, or the report could not say so.
    criteria = SCRIPT.rubric.criteria[:1]
    evidence = [{"seq": 3, "quote": "tell me what happened"}, {"seq": 3, "quote": "I apologise profusely"}]
    fake.judge_override = [_answer(evidence=evidence)]
    provider = gemini_kernel(gemini).model("gemini")
    judgement = await provider.judge(JudgeRequest(script=SCRIPT, criteria=criteria, transcript=HISTORY))
    await provider.close()
    assert [(e.seq, e.quote) for e in judgement.criteria[0].evidence] == [(e["seq"], e["quote"]) for e in evidence]


def test_settings_are_validated(tmp_path):
    from roleplay_core import Kernel, SettingsError

    with pytest.raises(SettingsError) as caught:
        Kernel.create(env="production", settings_files=[], overrides={
            "storage.backend": "memory", "security.jwt_secret": "x" * 40, "chat.model": "gemini",
            "gemini.ca_file": str(tmp_path / "missing.pem"), "gemini.base_url": "ftp://proxy",
            "gemini.api_key": ""})
    text = str(caught.value)
    assert "gemini.ca_file" in text and "gemini.base_url" in text and "gemini.api_key" in text


SECRET = "kq3V9xZp2Lr8Tn5Wb7Yc1Md4Fg6Hj0Sa-Ue_Io"  # a production-grade jwt secret, so only gemini problems remain


@pytest.mark.parametrize(("key", "value"), [
    ("gemini.timeout", "abc"), ("gemini.timeout", None), ("gemini.timeout", [1]), ("gemini.timeout", 0),
    ("gemini.timeout", True), ("gemini.timeout", float("nan")), ("gemini.retries", "three"),
    ("gemini.retries", {}), ("gemini.retries", 1.5), ("gemini.retries", 0), ("gemini.max_output_tokens", None),
    ("gemini.judge_attempts", "x"), ("gemini.temperature", -1), ("gemini.live.frame_ms", "fast"),
    ("gemini.live.event_buffer", 0),
])
def test_numeric_settings_of_the_wrong_type_are_problems_naming_the_key(key, value):
    from roleplay_core import Kernel, SettingsError

    base = {"storage.backend": "memory", "security.jwt_secret": SECRET, "gemini.api_key": "k"}
    with pytest.raises(SettingsError) as caught:  # a problem (raised outside development), not a raw ValueError
        Kernel.create(env="production", settings_files=[], overrides={**base, key: value})
    assert key in str(caught.value)


def test_numeric_strings_are_refused():
    """One rule for the whole project (docs/configuration.md): a number is written as a number."""
    from roleplay_core import Kernel, SettingsError

    with pytest.raises(SettingsError) as caught:
        Kernel.create(env="production", settings_files=[], overrides={
            "storage.backend": "memory", "security.jwt_secret": SECRET, "gemini.api_key": "k",
            "gemini.timeout": "2.5", "gemini.retries": "2"})
    assert "gemini.timeout: expected a number" in str(caught.value)
    assert "gemini.retries: expected an integer" in str(caught.value)


@pytest.mark.parametrize("key", ["chat.model", "evaluator.model", "chat.voice.model"])
def test_credentials_are_required_outside_development_when_anything_uses_gemini(key, monkeypatch):
    from roleplay_core import Kernel, SettingsError

    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    base = {"storage.backend": "memory", "security.jwt_secret": SECRET, "gemini.api_key": ""}
    with pytest.raises(SettingsError) as caught:
        Kernel.create(env="production", settings_files=[], overrides={**base, key: "gemini"})
    assert "gemini.api_key" in str(caught.value)
