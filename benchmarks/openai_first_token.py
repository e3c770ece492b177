"""Benchmark: the latency the ``openai`` provider adds to the first token of a reply.

The local OpenAI-compatible server (``python -m roleplay_openai.testserver``) runs as its own
process on loopback. Each round times, alternately:

- **raw**: a streamed ``POST /v1/chat/completions`` with plain httpx (one kept-alive client),
  from sending the request to the first content chunk;
- **provider**: ``OpenAIProvider.reply`` (the kernel's prompt, the openai SDK, parsing each
  chunk), from the call to the first ``ReplyDelta``.

Both send the same messages; the difference is what the provider and the SDK add. It also
reports the whole reply (to the final ``Reply``) for the provider.

Run:  .venv/bin/python benchmarks/openai_first_token.py [--rounds 300] [--history 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import httpx

from roleplay_core import ReplyDelta, ReplyRequest, TranscriptMessage, script_from_dict
from roleplay_core.testing import make_kernel

SCRIPT = script_from_dict({
    "id": "bench", "title": "A broken kettle at the returns desk", "learner_role": "Returns desk agent",
    "characters": [{"id": "sam", "name": "Sam", "persona": "An impatient customer whose kettle broke."}],
})


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def history(turns: int) -> tuple[TranscriptMessage, ...]:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    return tuple(TranscriptMessage(seq=n + 1, role="learner" if n % 2 else "character", created_at=now,
                                   character_id=None if n % 2 else "sam",
                                   text=f"Line {n + 1} of a conversation about a refund for a kettle.")
                 for n in range(turns if turns % 2 == 0 else turns + 1))


async def run(settings: dict, rounds: int, turns: int) -> dict[str, list[float]]:
    from roleplay_openai import prompts

    provider = make_kernel(settings).model("openai")
    request = ReplyRequest(script=SCRIPT, character=SCRIPT.characters[0], history=history(turns))
    body = {"model": settings["openai.model"], "messages": prompts.reply_messages(request), "stream": True,
            "temperature": 0.8, "max_tokens": 1024}
    headers = {"Authorization": f"Bearer {settings['openai.api_key']}"}
    figures: dict[str, list[float]] = {"raw": [], "provider": [], "provider_whole": []}
    async with httpx.AsyncClient(base_url=settings["openai.base_url"], headers=headers) as raw:
        for n in range(rounds + 20):  # 20 warm-up rounds, not counted
            start = time.perf_counter()
            first = None
            async with raw.stream("POST", "/chat/completions", json=body) as response:
                async for line in response.aiter_lines():  # read to the end, as the provider does
                    if first is None and line.startswith("data: ") and '"content": ""' not in line \
                            and '"content": "' in line:
                        first = time.perf_counter() - start
            start = time.perf_counter()
            first_delta = None
            async for item in provider.reply(request):
                if first_delta is None and isinstance(item, ReplyDelta):
                    first_delta = time.perf_counter() - start
            whole = time.perf_counter() - start
            if n >= 20:
                figures["raw"].append(first * 1000)
                figures["provider"].append(first_delta * 1000)
                figures["provider_whole"].append(whole * 1000)
    await provider.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--history", type=int, default=20, help="messages of history in each request")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "roleplay_openai.testserver"], stdout=subprocess.PIPE, text=True)
    try:
        settings = json.loads(server.stdout.readline())
        figures = asyncio.run(run(settings, args.rounds, args.history))
    finally:
        server.terminate()
        server.wait(10)
    raw, provider = figures["raw"], figures["provider"]
    added = [p - r for p, r in zip(provider, raw, strict=True)]
    print(f"{args.rounds} rounds, {args.history} messages of history")
    for name, values in (("raw httpx first chunk", raw), ("provider first delta", provider),
                         ("provider whole reply", figures["provider_whole"])):
        print(f"{name:24} p50 {percentile(values, 50):6.2f} ms  p99 {percentile(values, 99):6.2f} ms")
    print(f"{'added to first token':24} p50 {statistics.median(added):6.2f} ms  p99 {percentile(added, 99):6.2f} ms")


if __name__ == "__main__":
    main()
