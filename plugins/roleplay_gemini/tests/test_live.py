"""Gemini Live sessions through the real google-genai client against the local server over TLS.

Test home of ``roleplay_core.live``, ``roleplay_gemini.live``.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from roleplay_gemini import live as gemini_live
from roleplay_gemini.testserver import dominant_hz, tone

from roleplay_core import (
    AudioChunk,
    GoAway,
    Interrupted,
    LiveRequest,
    ProviderError,
    SessionResumed,
    TranscriptDelta,
    TranscriptFinal,
    TurnComplete,
)

from .conftest import SCRIPT, gemini_kernel, message

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True, params=["direct", "sdk", "sdk-without-socket"])
def wire_path(request, monkeypatch) -> str:
    """Every test here three ways: audio and server content as plain JSON (the default, wire.py);
    every message through google-genai's models (Vertex AI, ``gemini.live.direct_audio = false``);
    and an SDK whose session has no socket where wire.py looks for it (found out after connecting)."""
    if request.param == "sdk":
        monkeypatch.setattr(gemini_live, "_sdk_parser", lambda: None)
    if request.param == "sdk-without-socket":
        monkeypatch.setattr(gemini_live, "has_socket", lambda session: False)
    return request.param


def speech(freq: float = 440.0, ms: int = 400, silence_ms: int = 400) -> bytes:
    return tone(freq, ms, 16_000) + bytes(int(16_000 * silence_ms / 1000) * 2)


async def send(session, pcm: bytes, frame_ms: int = 20) -> None:
    step = 16_000 * frame_ms // 1000 * 2
    for i in range(0, len(pcm), step):
        await session.send_audio(pcm[i:i + step])


async def until(session, kind, seconds: float = 10.0) -> list:
    seen = []

    async def collect():
        async for event in session.receive():
            seen.append(event)
            if isinstance(event, kind):
                return

    await asyncio.wait_for(collect(), seconds)
    return seen


async def test_setup_asks_for_audio_voice_transcription_vad_compression_and_resumption(gemini, fake):
    provider = gemini_kernel(gemini, **{"gemini.live_model": "gemini-live-test"}).model("gemini")
    history = (message(1, "learner", "Hello, welcome to the returns desk."),)
    session = await provider.connect_live(LiveRequest(script=SCRIPT, character=SCRIPT.characters[0], history=history))
    await session.close()
    await provider.close()
    setup = fake.setups[-1]
    headers = fake.live_headers[-1]
    assert headers["x-goog-api-key"] == gemini.api_key
    assert "permessage-deflate" not in headers.get("sec-websocket-extensions", "")
    assert setup["model"] == "models/gemini-live-test"
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Puck"
    assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}
    assert setup["realtimeInputConfig"]["automaticActivityDetection"]["disabled"] is False
    assert setup["realtimeInputConfig"]["activityHandling"] == "START_OF_ACTIVITY_INTERRUPTS"
    assert "slidingWindow" in setup["contextWindowCompression"]
    assert "sessionResumption" in setup
    instruction = setup["systemInstruction"]["parts"][0]["text"]
    assert "You are Sam" in instruction and "learner: Hello, welcome to the returns desk." in instruction


async def test_audio_in_audio_and_transcripts_out(gemini, fake, wire_path):
    provider = gemini_kernel(gemini).model("gemini")
    session = await provider.connect_live(LiveRequest(script=SCRIPT, character=SCRIPT.characters[0]))
    assert session.direct is (wire_path == "direct")
    await send(session, speech(440))
    events = await until(session, TurnComplete)
    await session.close()
    await provider.close()
    finals = [e for e in events if isinstance(e, TranscriptFinal)]
    assert [f.role for f in finals] == ["learner", "character"]
    heard = int(re.search(r"tone (\d+) hertz", finals[0].text).group(1))
    assert abs(heard - 440) <= 10
    assert finals[1].text.startswith("Reply 1: you said tone")
    assert any(isinstance(e, TranscriptDelta) and e.role == "character" for e in events)
    pcm = b"".join(e.data for e in events if isinstance(e, AudioChunk))
    assert {e.sample_rate for e in events if isinstance(e, AudioChunk)} == {24_000}
    assert len(pcm) == 24_000 * 2 * fake.reply_ms // 1000
    assert abs(dominant_hz(pcm, 24_000) - 660) < 5


async def test_late_input_transcription_stays_in_the_learners_turn(gemini, fake):
    fake.late_transcription = True
    provider = gemini_kernel(gemini).model("gemini")
    session = await provider.connect_live(LiveRequest(script=SCRIPT, character=SCRIPT.characters[0]))
    await send(session, speech(440))
    events = await until(session, TurnComplete)
    await session.close()
    await provider.close()
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("AudioChunk") < max(i for i, e in enumerate(events)
                                           if isinstance(e, TranscriptDelta) and e.role == "learner")
    learner = [e.text for e in events if isinstance(e, TranscriptFinal) and e.role == "learner"]
    assert len(learner) == 1 and re.fullmatch(r"tone \d+ hertz for \d+ milliseconds", learner[0])


async def test_typed_text_is_answered_by_voice(gemini, fake):
    provider = gemini_kernel(gemini).model("gemini")
    session = await provider.connect_live(LiveRequest(script=SCRIPT, character=SCRIPT.characters[0]))
    await session.send_text("Where is your receipt?")
    events = await until(session, TurnComplete)
    await session.close()
    await provider.close()
    finals = [e.text for e in events if isinstance(e, TranscriptFinal)]
    assert finals[-1] == "Reply 1: you said Where is your receipt?."


async def test_barge_in_interrupts_the_character(gemini, fake):
    fake.pace, fake.reply_ms = 0.03, 3000
    provider = gemini_kernel(gemini).model("gemini")
    session = await provider.connect_live(LiveRequest(script=SCRIPT, character=SCRIPT.characters[0]))
    await send(session, speech(440))
    await until(session, AudioChunk)
    await send(session, speech(550))  # the learner talks over the character's answer
    events = await until(session, Interrupted)
    finals = [e for e in events if isinstance(e, TranscriptFinal) and e.role == "character"]
    assert finals and finals[-1].interrupted
    more = await until(session, TurnComplete)
    await session.close()
    await provider.close()
    assert fake.interruptions == 1
    learner = [e.text for e in more if isinstance(e, TranscriptFinal) and e.role == "learner"]
    assert learner and "tone 55" in learner[0]


async def test_go_away_resumes_on_a_new_connection(gemini, fake):
    fake.go_away_after_turns = 1
    provider = gemini_kernel(gemini).model("gemini")
    session = await provider.connect_live(LiveRequest(script=SCRIPT, character=SCRIPT.characters[0]))
    await send(session, speech(440))
    await until(session, TurnComplete)
    events = await until(session, SessionResumed)
    assert any(isinstance(e, GoAway) and e.time_left_ms == 200 for e in events)
    await send(session, speech(330))
    events = await until(session, TurnComplete)
    handle = session.resumption_handle
    await session.close()
    await provider.close()
    assert fake.live_connections == 2 and len(fake.resumed) == 1
    assert fake.setups[-1]["sessionResumption"]["handle"] == fake.resumed[0]
    character = [e.text for e in events if isinstance(e, TranscriptFinal) and e.role == "character"]
    assert character == [f"Reply 2: you said tone 330 hertz for {character[0].split('for ')[1].split(' ')[0]} milliseconds."]
    assert handle and handle != fake.resumed[0]


async def test_resume_from_an_unknown_handle_is_a_provider_error(gemini, fake):
    provider = gemini_kernel(gemini).model("gemini")
    with pytest.raises(ProviderError):
        await provider.connect_live(LiveRequest(script=SCRIPT, character=SCRIPT.characters[0],
                                                resumption_handle="h-forged"))
    await provider.close()
