"""How long the rule-based evaluator takes as a transcript grows.

Scores transcripts of 10, 100 and 1,000 learner turns (each answered by the character) on every
shipped script, with the rules only (no model), and prints the median time of ``evaluate`` over
``--rounds`` runs, with
the tokeniser's caches cleared before each run. The learner lines cycle through a realistic good practice of the script.
Then prints the estimated size, in tokens, of the one judge request a configured model would get
for the same transcripts (roleplay_core.estimate_tokens: wide characters one token each, the rest
four characters a token), windowed to the evaluator's default budget.

Run from the repository root::

    /tmp/venv/bin/python benchmarks/evaluator_scoring.py
    /tmp/venv/bin/python benchmarks/evaluator_scoring.py --rounds 9 --turns 10 100 1000 3000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

from roleplay_evaluator import judge, rules
from roleplay_evaluator.evaluate import evaluate

from roleplay_core import JudgeRequest, Transcript, TranscriptMessage, build_judge_prompt, text
from roleplay_core.testing import make_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "roleplay_evaluator" / "tests"))
from evaluator_conversations import good_lines  # noqa: E402

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
#: The evaluator's default transcript budget for the judge prompt (evaluator.judge_transcript_tokens).
BUDGET = 32000


def build(script, turns: int) -> Transcript:
    lines = good_lines(script)
    messages = []
    for n in range(turns):
        messages.append(TranscriptMessage(seq=2 * n + 1, role="learner", text=lines[n % len(lines)],
                                          created_at=T0 + dt.timedelta(seconds=20 * n)))
        messages.append(TranscriptMessage(seq=2 * n + 2, role="character", text="I see. Go on, please.",
                                          created_at=T0 + dt.timedelta(seconds=20 * n + 10)))
    return Transcript(session_id="bench", user_id="bench", scenario_id=script.id, script=script,
                      character_id=script.characters[0].id, language=script.language, status="ended",
                      started_at=T0, ended_at=T0 + dt.timedelta(seconds=20 * turns), messages=tuple(messages))


async def main(rounds: int, sizes: list[int]) -> None:
    kernel = make_kernel()
    await kernel.open()
    scripts = [p.script for p in await kernel.catalog.list() if p.source == "pack"]
    await kernel.stop()
    print(f"rule-based evaluate(), median of {rounds} runs, Python {sys.version.split()[0]}")
    print(f"{'script':34} " + " ".join(f"{n:>9} turns" for n in sizes))
    for script in scripts:
        row = []
        for size in sizes:
            transcript = build(script, size)
            times = []
            for _ in range(rounds):
                # Cold caches each run: a real evaluation sees its transcript's lines for the first time.
                text.tokens.cache_clear()
                text.sentences.cache_clear()
                text._FOUND.clear()
                text.narrated_spans.cache_clear()
                text.negated_words.cache_clear()
                started = time.perf_counter()
                await evaluate(None, transcript)
                times.append(time.perf_counter() - started)
            row.append(f"{statistics.median(times) * 1000:>12.1f} ms")
        print(f"{script.id:34} " + " ".join(row))
    # What one judge call would send for the same transcripts (every criterion but mechanical ones,
    # the rules' findings as candidate evidence), in estimated tokens, with the default budget.
    print()
    print(f"judge request, estimated tokens (evaluator.judge_transcript_tokens = {BUDGET})")
    print(f"{'script':34} " + " ".join(f"{n:>9} turns" for n in sizes))
    for script in scripts:
        row = []
        for size in sizes:
            transcript = build(script, size)
            results = {r.criterion_id: r for r in rules.score_all(script, transcript.messages, script.language)}
            criteria = tuple(c for c in script.rubric.criteria if not c.mechanical)
            request = JudgeRequest(script=script, criteria=criteria, transcript=transcript.messages,
                                   language=script.language, rule_findings=judge.findings(criteria, results),
                                   transcript_tokens=BUDGET)
            row.append(f"{build_judge_prompt(request).tokens:>12,}  ")
        print(f"{script.id:34} " + " ".join(row))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turns", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.turns))
