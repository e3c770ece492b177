"""Replies through the real openai client against the local server: streaming, the shared character
prompt, retries, failures (401, 429 with Retry-After, 500, timeouts, a cut stream), TLS and Azure.

Test home of ``roleplay_openai.client``, ``roleplay_openai.provider``, ``roleplay_openai.prompts``,
``roleplay_core.prompting``.
"""

from __future__ import annotations

import pytest

from roleplay_core import ProviderError, Reply, ReplyDelta, ReplyRequest, character_instruction

from .conftest import SCRIPT, message, openai_kernel

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_openai_clients")]

HISTORY = (
    message(1, "character", "My kettle broke after a week!", "sam"),
    message(2, "character", "She is really upset.", "lee"),
    message(3, "learner", "I am sorry to hear that, can you tell me what happened?"),
)
REQUEST = ReplyRequest(script=SCRIPT, character=SCRIPT.characters[0], history=HISTORY)


async def collect(provider, request=REQUEST):
    try:
        return [item async for item in provider.reply(request)]
    finally:
        await provider.close()


async def test_provider_is_registered_with_capabilities(server):
    kernel = openai_kernel(server)
    assert "openai" in kernel.model_factories
    assert kernel.model("openai").capabilities == {"reply", "judge", "live"}


async def test_reply_streams_deltas_then_one_reply(server, fake):
    provider = openai_kernel(server, **{"openai.temperature": 0.3, "openai.model": "local-llama",
                                        "openai.extra_headers": {"X-Tenant": "acme"}}).model("openai")
    request = ReplyRequest(script=SCRIPT, character=SCRIPT.characters[0], history=HISTORY, seed=7, language="fr")
    items = await collect(provider, request)
    deltas = [i for i in items if isinstance(i, ReplyDelta)]
    assert len(deltas) > 1, "the answer arrives in several streamed pieces"
    assert isinstance(items[-1], Reply) and sum(isinstance(i, Reply) for i in items) == 1
    assert items[-1].text == "".join(d.text for d in deltas).strip()
    assert items[-1].text == "Sam hears you say: I am sorry to hear that, can you tell me what happened?"
    assert items[-1].info == {"model": "local-llama", "finish_reason": "stop"}
    seen = fake.requests[-1]
    body = seen["body"]
    assert seen["path"] == "/v1/chat/completions" and seen["headers"]["x-tenant"] == "acme"
    assert (body["model"], body["stream"], body["temperature"], body["seed"]) == ("local-llama", True, 0.3, 7)
    assert body["max_tokens"] == 1024 and "max_completion_tokens" not in body  # a local server's parameter
    roles = [m["role"] for m in body["messages"]]
    # The character opened and Lee spoke next: a user turn first, then alternation, ending with the learner.
    assert roles == ["system", "user", "assistant", "user"]
    assert body["messages"][1]["content"] == "(The conversation begins.)"
    assert body["messages"][3]["content"] == "[Lee]: She is really upset.\nI am sorry to hear that, can you tell me what happened?"
    system = body["messages"][0]["content"]
    # The kernel's character prompt, the same one the gemini provider sends; the session's language wins.
    assert system == character_instruction(SCRIPT, SCRIPT.characters[0], language="fr")
    assert "You are Sam" in system and "impatient customer" in system and "'fr'" in system


async def test_rate_limit_is_retried_after_retry_after(server, fake):
    fake.fail_next = [429]
    fake.retry_after = "0.3"
    items = await collect(openai_kernel(server, **{"openai.max_retries": 1}).model("openai"))
    assert isinstance(items[-1], Reply)
    assert len(fake.requests) == 2
    assert fake.arrivals[1] - fake.arrivals[0] >= 0.3, "the SDK waited as Retry-After asked"


@pytest.mark.parametrize(("status", "words"), [(500, "500"), (429, "429")])
async def test_failures_without_retries_left_are_provider_errors(server, fake, status, words):
    fake.fail_next = [status, status]
    with pytest.raises(ProviderError, match=words):
        await collect(openai_kernel(server, **{"openai.max_retries": 1}).model("openai"))
    assert len(fake.requests) == 2


async def test_wrong_key_is_a_provider_error(server, fake):
    with pytest.raises(ProviderError, match="401"):
        await collect(openai_kernel(server, **{"openai.api_key": "wrong"}).model("openai"))


async def test_timeout_is_a_provider_error(server, fake):
    fake.delay = 1.0
    with pytest.raises(ProviderError, match="in time"):
        await collect(openai_kernel(server, **{"openai.timeout": 0.2}).model("openai"))


async def test_stream_cut_mid_way_is_a_provider_error(server, fake):
    fake.cut_after = 2
    provider = openai_kernel(server).model("openai")
    got: list[ReplyDelta] = []
    with pytest.raises(ProviderError):
        async for item in provider.reply(REQUEST):
            got.append(item)
    await provider.close()
    assert got and all(isinstance(i, ReplyDelta) for i in got), "pieces came, then the failure, never a Reply"


async def test_private_ca_is_trusted_only_with_ca_file(tls_server):
    items = await collect(openai_kernel(tls_server).model("openai"))
    assert isinstance(items[-1], Reply) and tls_server.fake.requests
    with pytest.raises(ProviderError, match="(?i)certificate|ssl"):
        await collect(openai_kernel(tls_server, **{"openai.ca_file": ""}).model("openai"))


async def test_azure_openai_shape(server, fake):
    provider = openai_kernel(server, **{"openai.azure.endpoint": server.origin, "openai.azure.deployment": "chat-dep",
                                        "openai.azure.api_version": "2024-10-21"}).model("openai")
    items = await collect(provider)
    assert isinstance(items[-1], Reply)
    seen = fake.requests[-1]
    assert seen["path"] == "/openai/deployments/chat-dep/chat/completions"
    assert seen["query"]["api-version"] == "2024-10-21" and seen["headers"]["api-key"] == server.api_key
    assert seen["body"]["max_completion_tokens"] == 1024 and "max_tokens" not in seen["body"]


async def test_local_server_needs_no_key(server, fake, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake.api_key = None
    items = await collect(openai_kernel(server, **{"openai.api_key": ""}).model("openai"))
    assert isinstance(items[-1], Reply)
