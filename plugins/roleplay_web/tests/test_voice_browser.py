"""Voice practice in a real browser: headless Chromium with its fake microphone playing a WAV file
this test writes, against the full app whose voice model is the local Gemini test server
(roleplay_gemini.testserver, the same stand-in plugins/roleplay_gemini/tests/test_voice.py uses).

The learner's "speech" is a 440 Hz tone; the fake model transcribes it as "tone 440 hertz ..."
and answers with a 660 Hz tone. The WAV loops, so the learner speaks again while the character
is still answering: barge-in.

Test home of ``roleplay_web.capabilities``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import struct
import wave
from pathlib import Path

import httpx
import pytest
from web_support import ARTIFACTS, Browser, Server, check_view, chromium_binary, requires_api

PASSWORD = "correct horse battery staple"
RATE = 48_000

pytestmark = [requires_api, pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(importlib.util.find_spec("roleplay_gemini") is None,
                                 reason="needs roleplay-gemini installed: its local Gemini test server speaks")]


def write_wav(path: Path, tone_ms: int = 500, silence_ms: int = 1000, hz: float = 440.0) -> None:
    """A mono PCM16 WAV: a tone (the learner speaking), then silence (the learner listening)."""
    samples = [int(0.5 * 32767 * math.sin(2 * math.pi * hz * n / RATE)) for n in range(RATE * tone_ms // 1000)]
    samples += [0] * (RATE * silence_ms // 1000)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def test_talking_in_headless_chromium(tmp_path):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no `chromium` on PATH: the browser test needs headless Chromium (apt-get install chromium)")
    from roleplay_gemini.testserver import LocalGemini

    wav = tmp_path / "learner.wav"
    write_wav(wav)
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required"]
    with LocalGemini() as gemini:
        # The reply is long and sent at twice real time, so the browser has audio queued when the
        # learner talks over it.
        gemini.fake.reply_ms = 3000
        gemini.fake.pace = 0.02
        overrides = {**gemini.settings(), "chat.model": "gemini", "chat.limits.sessions_per_day": 0,
                     "chat.limits.messages_per_minute": 0, "chat.voice.tick_seconds": 0.2}
        with Server(overrides) as server:
            asyncio.run(asyncio.wait_for(talking(binary, flags, server, gemini.fake), 150))


def restart(server: Server) -> None:
    """What SIGTERM does to a serving kernel: begin the drain (in the server's own event loop)."""
    kernel = server.app.state.kernel
    server.server.servers[0].get_loop().call_soon_threadsafe(kernel.begin_drain)


async def talking(binary: str, flags: list[str], server: Server, fake) -> None:
    url = server.url
    async with httpx.AsyncClient(base_url=url) as http:
        pair = (await http.post("/auth/register", json={"email": "tala@example.org", "password": PASSWORD,
                                                        "display_name": "Tala"})).json()
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert (await http.get("/capabilities")).json()["voice"] == {
            "available": True, "provider": "gemini", "setting": "chat.model", "reason": None}
        async with Browser(binary, flags) as browser:
            page = await browser.page()
            await page.goto(url + "/#/scenarios/refund-angry-customer")
            await page.wait_for("document.querySelector('main h1')?.textContent === 'Sign in'")
            await page.fill("input[name=email]", "tala@example.org")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form button[type=submit]")
            await page.wait_for("document.querySelector('#start-practice')", what="the brief")
            await page.click("#start-practice")
            await page.wait_for("document.querySelector('#messages li.character') && document.querySelector('#mode-talk')",
                                what="the practice view")
            session_id = (await page.eval("location.hash")).rsplit("/", 1)[1]

            # -- talk mode: the page asks the server, then the call starts -------------------------
            await page.click("#mode-talk")
            await page.wait_for("document.querySelector('#talk').dataset.state === 'idle' && "
                                "!document.querySelector('#call-start').hidden", what="voice available")
            await page.click("#call-start")
            await page.wait_for("['listening', 'speaking'].includes(document.querySelector('#talk').dataset.state)",
                                what="the call started")
            # The learner's speech reaches the server and comes back as a stored, numbered turn.
            await page.wait_for("document.querySelector('#messages li.learner.voice')", 30, what="the learner's spoken turn")
            heard = await page.eval("document.querySelector('#messages li.learner.voice .text').textContent")
            assert heard.startswith("tone "), heard
            assert abs(int(heard.split()[1]) - 440) <= 15, f"the fake microphone's 440 Hz arrived as {heard!r}"
            assert fake.audio_bytes_in > 0
            # The character's audio is played from the jitter buffer.
            await page.wait_for("Number(document.querySelector('#talk').dataset.playedMs || 0) > 200", 20,
                                what="the character's audio playing")
            # Live transcripts showed before the turns were final, for both sides.
            assert int(await page.eval("document.querySelector('#talk').dataset.liveLearner || 0")) > 0
            await page.wait_for("Number(document.querySelector('#talk').dataset.liveCharacter || 0) > 0", 10,
                                what="the character's words as spoken")
            # Barge-in: the WAV loops, the learner talks over the reply, queued playback is dropped.
            await page.wait_for("Number(document.querySelector('#talk').dataset.interruptions || 0) > 0", 30,
                                what="an interruption")
            await page.wait_for("Number(document.querySelector('#talk').dataset.cleared || 0) > 0", 5,
                                what="queued playback dropped")
            assert int(await page.eval("document.querySelector('#talk').dataset.droppedMs")) > 0
            assert fake.interruptions > 0
            await check_view(page, "talk")

            # Typing during the call: stored as a typed message, in the same log.
            await page.fill("#message-input", "Could you show me the receipt?")
            await page.click("#send")
            await page.wait_for("[...document.querySelectorAll('#messages li.learner:not(.voice) .text')]"
                                ".some(t => t.textContent === 'Could you show me the receipt?')", 20, what="typed during the call")
            assert await page.eval("document.querySelector('#message-input').value") == ""

            # The level meter moves with the learner's voice; mute stops the audio going out.
            await page.wait_for("Number(document.querySelector('#voice-level').value) > 0.3", 5, what="the level meter")
            sent = "Number(document.querySelector('#talk').dataset.framesSent)"
            await page.click("#mute")
            await asyncio.sleep(0.3)
            muted_at = await page.eval(sent)
            await asyncio.sleep(0.6)
            assert await page.eval(sent) == muted_at, "no audio goes out while muted"
            assert await page.eval("document.querySelector('#mute').getAttribute('aria-pressed')") == "true"
            await page.click("#mute")
            await page.wait_for(f"{sent} > {muted_at} + 5", 5, what="audio again after unmuting")

            # Push-to-talk: audio goes out only while the space bar is held; releasing it ends the turn.
            await page.click("#push-to-talk")
            await page.eval("document.activeElement.blur(); true")
            await asyncio.sleep(0.3)
            idle_at = await page.eval(sent)
            await asyncio.sleep(0.5)
            assert await page.eval(sent) == idle_at, "push-to-talk sends nothing while the key is up"
            await page.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": " ", "code": "Space",
                                                       "windowsVirtualKeyCode": 32})
            await page.wait_for(f"{sent} > {idle_at} + 10 && document.querySelector('#talk').dataset.talking === 'true'",
                                5, what="audio while space is held")
            await page.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": " ", "code": "Space",
                                                       "windowsVirtualKeyCode": 32})
            await page.wait_for("document.querySelector('#talk').dataset.talking === 'false'", 5)
            frames_out = [json.loads(e["response"]["payloadData"]) for e in page.events("Network.webSocketFrameSent")
                          if e["response"]["opcode"] == 1]
            assert {"type": "end_turn"} in frames_out, "releasing the key closes the learner's turn"
            await page.click("#hands-free")
            await page.click("#call-end")
            await page.wait_for("document.querySelector('#talk').dataset.state === 'ended' && "
                                "!document.querySelector('#call-start').hidden", 20, what="the call ended")

            # -- the transcript: what the page shows is what was stored -----------------------
            stored = (await http.get(f"/chat/sessions/{session_id}", headers=headers)).json()["messages"]
            voice = [m for m in stored if m.get("voice")]
            assert {m["role"] for m in voice} == {"learner", "character"}
            shown = await page.eval("[...document.querySelectorAll('#messages li[data-seq]')]"
                                    ".map(li => [Number(li.dataset.seq), li.dataset.role, li.querySelector('.text').textContent])")
            assert shown == [[m["seq"], m["role"], m["text"]] for m in stored], "one transcript, typed and spoken"
            assert await page.eval("document.querySelectorAll('#messages li.live').length") == 0
            assert await page.eval("[...document.querySelectorAll('#messages li[data-seq]')]"
                                   ".every(li => li.querySelector('.seq').textContent.trim() === '#' + li.dataset.seq)"), \
                "each turn, spoken or typed, shows its message number"

            # After the call, typing goes on in the same conversation.
            before = len(stored)
            await page.click("#mode-type")
            await page.fill("#message-input", "Thank you, I will process the refund now.")
            await page.click("#send")
            await page.wait_for(f"document.querySelectorAll('#messages li[data-seq]').length >= {before + 2} && "
                                "!document.querySelector('#send').disabled", 30, what="a typed turn after the call")

            # -- a second call: the provider moves to a new connection (goAway) mid-call -----------
            fake.reply_ms, fake.pace, fake.go_away_after_turns = 600, 0.0, 1
            await page.click("#mode-talk")
            await page.click("#call-start")
            await page.wait_for("Number(document.querySelector('#talk').dataset.reconnects || 0) >= 1", 30,
                                what="reconnecting, then resumed")
            assert int(await page.eval("document.querySelector('#talk').dataset.reconnecting")) >= 1
            assert fake.go_aways >= 1
            # Gap-free: with the reply arriving faster than it plays, the jitter buffer never ran dry.
            await page.wait_for("Number(document.querySelector('#talk').dataset.playedMs || 0) > 500", 10)
            assert await page.eval("document.querySelector('#talk').dataset.underruns") == "0"
            await page.wait_for("document.querySelector('#voice-status').textContent === 'Reconnected. Carry on.' || "
                                "['listening', 'speaking'].includes(document.querySelector('#talk').dataset.state)", 10)
            await page.click("#call-end")
            await page.wait_for("document.querySelector('#talk').dataset.state === 'ended'", 20, what="the second call ended")

            # -- the server restarts during a call: a reconnect frame, 1012, a sentence saying what to do --
            fake.go_away_after_turns = 0
            await page.click("#call-start")
            await page.wait_for("['listening', 'speaking'].includes(document.querySelector('#talk').dataset.state)", 20,
                                what="a third call")
            await asyncio.to_thread(restart, server)
            await page.wait_for("document.querySelector('#talk').dataset.state === 'ended'", 20, what="the call closed")
            said = await page.eval("document.querySelector('#voice-error').textContent")
            assert said == "The server is restarting. Everything said so far is saved; start talking again in a moment.", said
            received = [json.loads(e["response"]["payloadData"]) for e in page.events("Network.webSocketFrameReceived")
                        if e["response"]["opcode"] == 1]
            assert {"type": "reconnect", "code": "server_restarting"} in [
                {k: f.get(k) for k in ("type", "code")} for f in received]

            # -- a refused microphone is a clear state, not a dead button ----------------------
            await page.eval("navigator.mediaDevices.getUserMedia = () => Promise.reject("
                            "new DOMException('denied by the test', 'NotAllowedError')); true")
            await page.click("#mode-talk")
            await page.click("#call-start")
            await page.wait_for("document.querySelector('#talk').dataset.state === 'mic-refused'", what="mic refused")
            refused = await page.eval("document.querySelector('#voice-error').textContent")
            assert "not allowed to use the microphone" in refused
            assert await page.eval("document.querySelector('#call-start').textContent") == "Try the microphone again"
            await check_view(page, "talk-mic-refused")

            errors = page.console_errors()
            assert errors == [], errors
            sent = [e for e in page.events("Network.webSocketFrameSent") if e["response"]["opcode"] == 1]
            texts = [json.loads(e["response"]["payloadData"]) for e in sent]
            assert {"type": "start", "sample_rate": texts[[t.get("type") for t in texts].index("start")]["sample_rate"],
                    "output_sample_rate": texts[[t.get("type") for t in texts].index("start")]["sample_rate"],
                    "channels": 1} in texts
            binary_frames = [e for e in page.events("Network.webSocketFrameSent") if e["response"]["opcode"] == 2]
            assert binary_frames, "PCM16 went out as binary frames"
    assert ARTIFACTS.is_dir()
