"""What a voice call records in /metrics: calls in progress, relay latency both ways, and stalls.

Run over the real voice socket with the stand-in live provider of ``test_voice_endpoint``.
"""

from __future__ import annotations

import pytest
from test_voice_endpoint import app_client, auth_and_start, read_until, start_call

from roleplay_core import metrics
from roleplay_core.testing import auth_headers, metric_sample


@pytest.fixture(autouse=True)
def metrics_off_after():
    yield
    metrics.disable()  # the families stay registered (one set per process); recording stops


def scrape(client) -> str:
    metrics.flush()  # figures reach prometheus-client once a second; a test cannot wait for that
    response = client.get("/metrics", headers=auth_headers(client.app, "root", ("admin",)))
    assert response.status_code == 200
    return response.text


def test_a_call_is_counted_while_it_lasts_and_its_relay_latency_is_recorded():
    with app_client(**{"metrics.enabled": True}) as client:
        before = scrape(client)
        _, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            during = scrape(client)
            for _ in range(10):
                ws.send_bytes(b"\x01\x00" * 320)
            read_until(ws, "turn_complete")
        after = scrape(client)

    def grew(body, name, **labels):
        return metric_sample(body, name, **labels) - metric_sample(before, name, **labels)

    assert grew(during, "roleplay_voice_calls_in_progress") == 1
    assert grew(after, "roleplay_voice_calls_in_progress") == 0, "the call ended: no longer in progress"
    assert grew(after, "roleplay_voice_relay_latency_seconds_count", direction="upstream") == 10
    assert grew(after, "roleplay_voice_relay_latency_seconds_count", direction="downstream") >= 1
    assert grew(after, "roleplay_voice_relay_stalls_total") == 0


def test_a_provider_that_stops_taking_audio_is_counted_as_a_stall():
    settings = {"metrics.enabled": True, "chat.voice.stall_timeout": 0.3, "chat.voice.buffer_ms": 200}
    with app_client("stuck", **settings) as client:
        before = scrape(client)
        _, headers, connect = start_call(client)
        with connect as ws:
            auth_and_start(ws, headers)
            assert ws.receive_json()["type"] == "started"
            for _ in range(40):
                ws.send_bytes(b"\x01\x00" * 320)
            assert read_until(ws, "error")[-1]["code"] == "stalled"
        after = scrape(client)
    def grew(name, **labels):
        return metric_sample(after, name, **labels) - metric_sample(before, name, **labels)

    # The learner's audio could not be handed up to the provider: an upstream stall, nothing else.
    assert grew("roleplay_voice_relay_stalls_total", direction="upstream") == 1
    assert grew("roleplay_voice_relay_stalls_total", direction="downstream") == 0
