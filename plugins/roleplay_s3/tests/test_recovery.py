"""kill -9 of a server in the middle of chat turns, on S3: every session takes messages again within 10 s.

The same scenario as the chat plugin's file-storage test (``roleplay_core.testing.crash_and_recover``):
two ``uvicorn`` processes share one bucket of the moto S3 server; one is killed with
SIGKILL while three replies are under way. Runs where the chat plugin is installed.
"""

from __future__ import annotations

import importlib.util

import pytest

from roleplay_core.testing import ServerProcess, auth_headers, check_recovered, crash_and_recover, make_app

pytestmark = pytest.mark.skipif(importlib.util.find_spec("roleplay_chat") is None,
                                reason="needs the chat plugin (roleplay-chat) installed")


def _settings(moto_s3, bucket: str, delay: float) -> dict:
    return {**moto_s3.settings(bucket), "chat.model": "test-slow", "test_model.delay": delay,
            "chat.reply_timeout": 60.0, "chat.seed": 7, "chat.limits.messages_per_minute": 0,
            "chat.limits.sessions_per_day": 0}


def test_kill_9_mid_turn_frees_every_session_within_10_seconds_on_s3(moto_s3):
    bucket = moto_s3.create_bucket()
    dying = ServerProcess(_settings(moto_s3, bucket, delay=30))
    living = ServerProcess(_settings(moto_s3, bucket, delay=0))
    try:
        dying.wait_ready()
        living.wait_ready()
        headers = auth_headers(make_app(_settings(moto_s3, bucket, 0)), "alice")
        result = crash_and_recover(dying, living, headers, "refund-angry-customer")
        print(f"\ns3 storage: every session took messages {result['seconds']:.2f} s after kill -9")
        check_recovered(result, lease=6)
    finally:
        dying.kill()
        living.stop()
