"""The get_transcript hook and the session service the voice endpoint uses.

Test home of ``roleplay_chat.plugin``, ``roleplay_core.transcript``.
"""

import pytest
from roleplay_chat import sessions

from roleplay_core import PublishedScript, Transcript, script_from_dict
from roleplay_core.testing import make_kernel

pytestmark = pytest.mark.anyio

SCRIPT = {
    "id": "tiny",
    "title": "Tiny",
    "characters": [{"id": "ana", "name": "Ana", "speaks_first": True, "opening_line": "Hi, what can I do?"}],
}


async def test_transcript_hook_returns_messages_and_script():
    kernel = make_kernel()
    await kernel.open()
    try:
        published = PublishedScript(script=script_from_dict(SCRIPT), version="7", source="storage")
        record, opening = await sessions.create_session(kernel, "u1", published, seed=3)
        assert [m.seq for m in opening] == [1]
        spoken = await sessions.append_turn(kernel, record.id, role="learner", text="Hello", voice=True,
                                            duration_ms=1200)
        reply = await sessions.append_turn(kernel, record.id, role="character", text="Hello to you")
        assert (spoken.seq, reply.seq) == (2, 3)
        transcript = await kernel.transcript(record.id)
        assert isinstance(transcript, Transcript)
        assert transcript.user_id == "u1" and transcript.script.id == "tiny" and transcript.script_version == "7"
        assert [(m.seq, m.role, m.text) for m in transcript.messages] == [
            (1, "character", "Hi, what can I do?"), (2, "learner", "Hello"), (3, "character", "Hello to you")]
        assert transcript.messages[1].voice and transcript.messages[1].duration_ms == 1200
        assert transcript.messages[2].character_id == "ana"
        ended = await sessions.end_session(kernel, record.id, reason="done")
        assert ended.status == "ended" and ended.last_seq == 4
        transcript = await kernel.transcript(record.id)
        assert transcript.status == "ended" and transcript.end_reason == "done" and len(transcript.messages) == 3
        with pytest.raises(sessions.SessionEnded):
            await sessions.append_turn(kernel, record.id, role="learner", text="more")
        assert await kernel.transcript("0" * 24) is None
        assert await kernel.transcript("../etc") is None
    finally:
        await kernel.stop()
