"""POST /scripts/{id}/preview: with a fake engine (state threading), without one (503), and with the real one.

Test home of ``roleplay_scripter.preview``.
"""

from __future__ import annotations

import pytest
from scripter_support import needs_chat, sample, scripter_app
from starlette.testclient import TestClient

from roleplay_core import ModelProvider, ProviderError, Reply, ReplyDelta, hookimpl
from roleplay_core.testing import auth_headers, make_app

NO_CHAT = {"plugins.chat.enabled": False}


class FakeEngine(ModelProvider):
    """Counts turns in its state, so the test sees whether the scripter threads state through."""

    name = "scripted"
    capabilities = frozenset({"reply"})
    fail_on: str | None = None

    def __init__(self, kernel) -> None:
        self.requests = []

    async def reply(self, request):
        self.requests.append(request)
        if request.history[-1].text == self.fail_on:
            raise ProviderError("the engine broke")
        n = request.state.get("n", 0) + 1
        yield ReplyDelta("echo ")
        yield Reply(text=f"echo {n}: {request.history[-1].text}", state={"n": n}, ended=n == 3,
                    end_reason="three turns" if n == 3 else None, info={"beats": [f"beat-{n}"], "mood": n})


class FakePlugin:
    @hookimpl
    def register_model_providers(self):
        return {"scripted": FakeEngine}


@pytest.fixture
def fake_app():
    return make_app(NO_CHAT, plugins=[FakePlugin()])


@pytest.fixture(params=["stand-in engine", pytest.param("chat's scripted engine", marks=needs_chat)])
def engine_app(request):
    """Request checks do not depend on the engine: proven with the stand-in, and with chat's when installed."""
    return make_app(NO_CHAT, plugins=[FakePlugin()]) if request.param == "stand-in engine" else scripter_app()


def test_preview_threads_state_and_history_through_the_engine(fake_app):
    with TestClient(fake_app) as client:
        headers = auth_headers(fake_app, "a", ("scripter",))
        client.post("/scripts", json=sample(), headers=headers)
        response = client.post("/scripts/library-late-fee/preview", headers=headers,
                               json={"messages": ["one", "two", "three", "four"], "seed": 7})
        assert response.status_code == 200, response.text
        body = response.json()
        assert [t["reply"] for t in body["turns"]] == ["echo 1: one", "echo 2: two", "echo 3: three"]
        assert [t["beats"] for t in body["turns"]] == [["beat-1"], ["beat-2"], ["beat-3"]]
        assert body["beats_fired"] == ["beat-1", "beat-2", "beat-3"]
        assert (body["ended"], body["end_reason"], body["unplayed"]) == (True, "three turns", 1)
        assert body["opening_line"] == "Why do I owe six dollars?" and body["version"] == 1
        engine = fake_app.state.kernel.model("scripted")
        assert [dict(r.state) for r in engine.requests] == [{}, {"n": 1}, {"n": 2}]
        last = engine.requests[-1]
        assert [(m.role, m.text) for m in last.history] == [
            ("character", "Why do I owe six dollars?"), ("learner", "one"), ("character", "echo 1: one"),
            ("learner", "two"), ("character", "echo 2: two"), ("learner", "three")]
        assert last.seed == 7 and last.character.id == "sam" and last.language == "en"


def test_preview_engine_failure_is_a_502(fake_app):
    FakeEngine.fail_on = "boom"
    try:
        with TestClient(fake_app) as client:
            headers = auth_headers(fake_app, "a", ("scripter",))
            client.post("/scripts", json=sample(), headers=headers)
            response = client.post("/scripts/library-late-fee/preview", headers=headers, json={"messages": ["boom"]})
            assert response.status_code == 502 and "the engine broke" in response.json()["detail"]
    finally:
        FakeEngine.fail_on = None


def test_preview_without_the_engine_is_a_503():
    app = make_app(NO_CHAT)
    with TestClient(app) as client:
        headers = auth_headers(app, "a", ("scripter",))
        client.post("/scripts", json=sample(), headers=headers)
        response = client.post("/scripts/library-late-fee/preview", headers=headers, json={"messages": ["hello"]})
        assert response.status_code == 503
        assert "'scripted' model provider" in response.json()["detail"]
        assert response.headers["content-type"].startswith("application/problem+json")


def test_preview_rejects_bad_requests(engine_app):
    with TestClient(engine_app) as client:
        _rejects_bad_requests(client, auth_headers(engine_app, "author-1", ("scripter",)))


def _rejects_bad_requests(client, scripter):
    client.post("/scripts", json=sample(), headers=scripter)

    def post(body):
        return client.post("/scripts/library-late-fee/preview", headers=scripter, json=body)

    assert post({"messages": []}).json()["errors"][0]["field"] == "messages"
    assert post({"messages": ["  "]}).json()["errors"][0]["field"] == "messages[0]"
    assert post({"messages": ["x" * 2001]}).json()["errors"][0]["field"] == "messages[0]"
    assert post({"messages": ["hi"] * 51}).status_code == 422
    assert post({"messages": "hello"}).status_code == 422
    assert post({"messages": ["hi"], "surprise": 1}).status_code == 422
    assert post({"messages": ["hi"], "character_id": "nobody"}).json()["errors"][0]["field"] == "character_id"
    assert post({"messages": ["hi"], "version": 4}).status_code == 404
    assert client.post("/scripts/ghost/preview", headers=scripter, json={"messages": ["hi"]}).status_code == 404


@needs_chat
def test_preview_plays_the_unpublished_draft_with_the_real_engine(client, scripter, learner):
    client.post("/scripts", json=sample(), headers=scripter)
    messages = ["Hello!", "I'm sorry about this.", "The book was due two weeks ago.", "I can waive it for you."]
    body = client.post("/scripts/library-late-fee/preview", headers=scripter, json={"messages": messages}).json()
    assert body["beats_fired"] == ["greet", "apology", "explain", "waiver"]
    assert body["turns"][-1]["reply"] == "Really? Thank you!"
    assert (body["ended"], body["end_reason"]) == (True, "Fee waived.")
    assert [t["mood"] for t in body["turns"]] == [-1, 0, 0, 2]

    changed = sample()
    changed["scripted"]["beats"][3]["replies"] = ["Oh, wonderful. Thanks!"]
    client.put("/scripts/library-late-fee", json=changed, headers={**scripter, "If-Match": '"v1"'})
    draft = client.post("/scripts/library-late-fee/preview", headers=scripter, json={"messages": messages}).json()
    assert draft["version"] == 2 and draft["turns"][-1]["reply"] == "Oh, wonderful. Thanks!"
    old = client.post("/scripts/library-late-fee/preview", headers=scripter,
                      json={"messages": messages, "version": 1}).json()
    assert old["turns"][-1]["reply"] == "Really? Thank you!"
    # Nothing was published by previewing.
    assert client.get("/chat/scenarios/library-late-fee", headers=learner).status_code == 404


#: Ten-plus-turn conversations a good learner might have with each shipped script.
CONVERSATIONS = {
    "refund-angry-customer": [
        "Hello, I'm so sorry to hear that, that sounds really frustrating.",
        "What happened with the machine?",
        "You said this is your second visit?",
        "Do you have the receipt with you?",
        "May I have your name?",
        "Dana, since it's within 30 days I can give you a full refund.",
        "It will be back on your card within five business days.",
        "I can also give you a discount voucher for your next purchase.",
        "Is there anything else I can help with?",
    ],
    "refund-angry-customer-es": [
        "Hola, lo siento mucho, entiendo que es frustrante.",
        "¿Qué pasó con la cafetera?",
        "¿Es su segunda visita?",
        "¿Tiene el tique?",
        "¿Cuál es su nombre?",
        "Le hago el reembolso completo.",
        "Estará en su tarjeta en cinco días hábiles.",
        "Le doy también un descuento para su próxima compra.",
        "¿Necesita algo más?",
    ],
    # As a Taiwanese agent would type it: no spaces, full-width punctuation, 妳 and 甚麼 variants.
    "refund-angry-customer-zh-hant": [
        "妳好，很抱歉讓您久等了，跑兩趟一定很煩。",
        "請問咖啡機發生了甚麼事？",
        "您說這已經是第二次來了？",
        "請問發票有帶來嗎？",
        "請問怎麼稱呼您？",
        "林小姐，因為還在三十天內，我可以幫您全額退款。",
        "錢會在七到十四個工作天內刷退到您的信用卡。",
        "另外我再送您一張折價券，下次購物可以用。",
        "請問還有什麼需要幫忙的嗎？",
    ],
    "patient-history-chest-pain": [
        "Hello, my name is Sam, I'm a medical student.",
        "What brings you in today?",
        "Where exactly is the pain?",
        "When did it start?",
        "What does it feel like?",
        "Does it go anywhere else?",
        "Any other symptoms, like feeling sweaty or short of breath?",
        "How long does it last?",
        "Does anything make it better or worse?",
        "How bad is it out of ten?",
        "Do you have any other health problems?",
        "Do you take any medicines?",
        "Any allergies?",
        "Does anything run in your family?",
        "Do you smoke?",
        "That must be worrying, with your dad.",
        "Is there anything you're worried about?",
        "We'll do a heart tracing and a blood test.",
        "Let me summarise what you've told me.",
        "Do you have any questions?",
    ],
    "behavioural-job-interview": [
        "Welcome, thanks for coming in!",
        "Let me explain how the interview will work.",
        "Tell me about yourself.",
        "Tell me about a time you worked in a team.",
        "What did you do personally?",
        "What was the result?",
        "Tell me about a disagreement with a colleague.",
        "How did you handle it?",
        "How did it end?",
        "Tell me about a mistake you made.",
        "Tell me about a time you had to work under pressure.",
        "Do you have any questions for me?",
        "The team is eight people.",
        "We'll be in touch by Friday about next steps.",
    ],
    "difficult-feedback-employee": [
        "Thanks for coming, I wanted to talk about something I've noticed.",
        "In the code review on Priya's pull request you wrote that it was sloppy.",
        "She told me she felt humiliated.",
        "Help me understand how things have been for you.",
        "That sounds like a lot.",
        "I also want to talk about the payments deadline.",
        "Do you think the estimate was right?",
        "I value your work a lot.",
        "What would help?",
        "Let's agree: you talk to Priya and we check in weekly.",
        "Thanks for being honest.",
    ],
}


@needs_chat
@pytest.mark.parametrize("script_id", sorted(CONVERSATIONS))
def test_every_shipped_script_holds_a_ten_turn_conversation_offline(client, scripter, script_id):
    messages = CONVERSATIONS[script_id]
    assert len(messages) >= 9
    response = client.post(f"/scripts/{script_id}/preview", headers=scripter, json={"messages": messages})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["opening_line"]
    fallbacks = [t["learner"] for t in body["turns"] if not t["beats"]]
    assert fallbacks == []
    assert len(set(body["beats_fired"])) >= len(messages)  # every message moved the scene on (some say two things)
    assert body["ended"] is True and body["unplayed"] == 0
    assert body["turns"][-1]["mood"] >= 0  # a good learner leaves the character at ease


@needs_chat
def test_a_rude_learner_makes_the_customer_walk_out(client, scripter):
    rude = ["Calm down.", "You must have used it wrong.", "That's our policy, nothing I can do.", "Hello?"]
    body = client.post("/scripts/refund-angry-customer/preview", headers=scripter, json={"messages": rude}).json()
    # Blamed on top of "calm down", she warns once ("One more brush-off like that..."); the policy line
    # after the warning sends her out.
    assert body["beats_fired"] == ["calm_down", "blamed", "calm_down"]
    assert "One more brush-off like that" in body["turns"][1]["reply"]
    assert (body["ended"], body["end_reason"], body["unplayed"]) == (True, "Dana walked out angry.", 1)
    assert "dispute the charge" in body["turns"][-1]["reply"]


@needs_chat
def test_a_rude_learner_makes_the_customer_walk_out_in_chinese(client, scripter):
    rude = ["請您冷靜一點。", "您是不是沒有照說明書操作？", "這是公司規定，我也沒辦法。", "喂？"]
    body = client.post("/scripts/refund-angry-customer-zh-hant/preview", headers=scripter,
                       json={"messages": rude}).json()
    assert body["beats_fired"] == ["calm_down", "blamed", "calm_down"]
    assert "你再這樣跟我說話" in body["turns"][1]["reply"]  # the one warning
    assert (body["ended"], body["end_reason"], body["unplayed"]) == (True, "林小姐氣得走掉了。", 1)
    assert "爭議帳款" in body["turns"][-1]["reply"]


class HouseModel(FakeEngine):
    """A model provider other than the offline engine, as `chat.model` may name one."""

    name = "house-model"


class HousePlugin:
    @hookimpl
    def register_model_providers(self):
        return {"scripted": FakeEngine, "house-model": HouseModel}


def test_preview_with_the_configured_model():
    """``engine: configured`` plays the provider chat.model names (the one learners' sessions use)."""
    app = make_app({**NO_CHAT, "chat.model": "house-model"}, plugins=[HousePlugin()])
    with TestClient(app) as client:
        headers = auth_headers(app, "a", ("scripter",))
        client.post("/scripts", json=sample(), headers=headers)
        configured = client.post("/scripts/library-late-fee/preview", headers=headers,
                                 json={"messages": ["hi"], "engine": "configured"})
        assert configured.status_code == 200, configured.text
        assert configured.json()["engine"] == "house-model"
        assert len(app.state.kernel.model("house-model").requests) == 1
        assert app.state.kernel.model("scripted").requests == []
        offline = client.post("/scripts/library-late-fee/preview", headers=headers, json={"messages": ["hi"]})
        assert offline.json()["engine"] == "scripted" and len(app.state.kernel.model("scripted").requests) == 1
        bad = client.post("/scripts/library-late-fee/preview", headers=headers,
                          json={"messages": ["hi"], "engine": "gpt"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "engine"
    missing = make_app({**NO_CHAT, "chat.model": "nowhere"}, plugins=[FakePlugin()])
    with TestClient(missing) as client:
        headers = auth_headers(missing, "a", ("scripter",))
        client.post("/scripts", json=sample(), headers=headers)
        refused = client.post("/scripts/library-late-fee/preview", headers=headers,
                              json={"messages": ["hi"], "engine": "configured"})
        assert refused.status_code == 503 and "nowhere" in refused.json()["detail"]
