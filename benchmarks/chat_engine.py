"""The scripted character engine's CPU per learner message, on lines no process has seen before.

Plays every labelled practice of ``tests/practices`` (thousands of lines people wrote as learners,
in English, Spanish and Chinese) through ``roleplay_chat.engine.play_turn`` on its shipped script,
turn after turn as a session would, and prints the CPU microseconds per message, by language. No
server, no storage: the engine alone, the share of a chat turn that grows with what the learner
says. The text module's caches are cleared before each round, so every line is new to it, as a
learner's next message is; the per-script indexes (trigger index, lexicon) stay built, as they do in
a server. ``--rounds`` repeats the whole set; the fastest round is printed with the others, since a
busy machine only ever adds time.

Run from the repository root::

    .venv/bin/python benchmarks/chat_engine.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys
import time
from pathlib import Path

import yaml
from roleplay_chat.engine import initial_state, play_turn

from roleplay_core import text
from roleplay_core.catalog import load_pack_paths

ROOT = Path(__file__).resolve().parent.parent


def conversations() -> list[tuple[object, list[str]]]:
    """(shipped script, learner lines) for every labelled practice."""
    scripts = load_pack_paths([importlib.resources.files("roleplay_chat") / "packs" / "starter"])
    found = []
    for path in sorted((ROOT / "tests" / "practices").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        script = scripts.get(data["script"])
        if script is not None:
            found.extend((script, [t for t in p["turns"] if t.strip()]) for p in data["practices"])
    return found


def clear_caches() -> None:
    text.tokens.cache_clear()
    text._word_norms.cache_clear()
    text.sentences.cache_clear()
    text.narrated_spans.cache_clear()
    text.negated_words.cache_clear()
    text._FOUND.clear()


def one_round(played: list[tuple[object, list[str]]]) -> dict[str, list[float]]:
    clear_caches()
    seconds: dict[str, list[float]] = {}
    for script, lines in played:
        state = initial_state(script)
        character = script.characters[0]
        for line in lines:
            begin = time.process_time()
            turn = play_turn(script, character, line, state)
            seconds.setdefault(script.language, []).append(time.process_time() - begin)
            state = turn.state
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    played = conversations()
    for script, _ in played[:: max(1, len(played) // 6)]:
        play_turn(script, script.characters[0], "hello", initial_state(script))  # build the per-script indexes
    totals = []
    for number in range(1, max(1, args.rounds) + 1):
        seconds = one_round(played)
        every = [s for values in seconds.values() for s in values]
        totals.append(sum(every) / len(every) * 1e6)
        by_language = ", ".join(f"{language} {sum(v) / len(v) * 1e6:,.0f} us ({len(v):,})"
                                for language, v in sorted(seconds.items()))
        print(f"round {number}: {len(every):,} messages, {totals[-1]:,.0f} us of CPU per message; {by_language}")
    print(f"fastest round: {min(totals):,.0f} us per message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
