"""The interface's catalogues: one per language, each with every key, the same placeholders, and
every key the page uses. A key missing from one catalogue fails here, not on a learner's screen."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from web_support import STATIC

CATALOGUES = STATIC / "i18n"
VOICE_DOC = Path(__file__).resolve().parents[3] / "docs" / "voice.md"
#: Problems the page itself finds (the browser, the microphone, a close without an error frame).
CLIENT_VOICE_CODES = ("mic_refused", "no_mic", "mic_busy", "mic_failed", "no_browser_support", "socket_closed",
                      "unauthorized", "server_restarting", "unknown")
TEMPLATE = STATIC.parent / "templates" / "index.html"
I18N = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
#: The languages the switcher offers (i18n.js's LANGUAGES).
OFFERED = re.findall(r'\{ tag: "([^"]+)", name: "[^"]+" \}', I18N)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: t("key") and t("key", {...}) in the scripts; keys built at run time are listed in DYNAMIC.
USED = re.compile(r'\bt\(\s*"([a-z_.]+)"')
DYNAMIC = {
    # progress.js: the table's column headings
    **{f"progress.{k}": "progress.js" for k in ("criterion", "first", "latest", "best", "change")},
    # scenarios.js: every difficulty roleplay_core.script allows
    **{f"difficulty.{k}": "scenarios.js" for k in ("beginner", "intermediate", "advanced")},
    # format.js's plural(): the keys passed to it
    "count.messages": "practice.js, sessions.js", "count.sessions": "progress.js",
    # talk.js: voiceError(code) says t(`voice.error.${code}`)
    **{f"voice.error.{code}": "talk.js" for code in CLIENT_VOICE_CODES},
    # signin.js: required("key") builds a rule that says t(key)
    "signin.need_name": "signin.js", "signin.need_password": "signin.js",
}


def load(tag: str) -> dict:
    return json.loads((CATALOGUES / f"{tag}.json").read_text(encoding="utf-8"))


def placeholders(value: str | dict) -> set[str]:
    texts = value.values() if isinstance(value, dict) else [value]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def test_one_catalogue_per_offered_language():
    assert OFFERED == ["en", "es", "zh-Hant"]
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(OFFERED)


@pytest.mark.parametrize("tag", ["es", "zh-Hant"])
def test_every_key_is_in_every_catalogue(tag):
    english, other = load("en"), load(tag)
    assert sorted(set(english) - set(other)) == [], f"missing from {tag}.json"
    assert sorted(set(other) - set(english)) == [], f"in {tag}.json but not en.json"


@pytest.mark.parametrize("tag", ["en", "es", "zh-Hant"])
def test_values_are_whole(tag):
    english, catalogue = load("en"), load(tag)
    for key, value in catalogue.items():
        if isinstance(english[key], dict):
            # Plural forms: "other" always (the fallback of every language's rules).
            assert isinstance(value, dict) and value.get("other"), f"{tag}: {key} needs plural forms"
            assert set(value) <= {"zero", "one", "two", "few", "many", "other"}, f"{tag}: {key}"
        else:
            assert isinstance(value, str) and value.strip(), f"{tag}: {key} is empty"
        assert placeholders(value) == placeholders(english[key]), f"{tag}: {key} has other placeholders than en"


def test_every_key_the_page_uses_exists():
    used = {key for path in STATIC.rglob("*.js") for key in USED.findall(path.read_text(encoding="utf-8"))}
    used |= set(DYNAMIC) | {f"voice.error.{code}" for code in documented_voice_codes()}
    markup = TEMPLATE.read_text(encoding="utf-8")
    used |= set(re.findall(r'data-i18n(?:-label)?="([^"]+)"', markup))
    english = load("en")
    assert sorted(used - set(english)) == [], "used by the page but in no catalogue"
    assert sorted(set(english) - used) == [], "in the catalogues but used nowhere"


def test_a_missing_key_is_caught():
    """The check above really fails: drop one key from a copy of a catalogue."""
    english, spanish = load("en"), load("es")
    spanish.pop("practice.send")
    assert sorted(set(english) - set(spanish)) == ["practice.send"]


def documented_voice_codes() -> set[str]:
    """Every ``code`` of docs/voice.md's "Errors and close codes" table."""
    text = VOICE_DOC.read_text(encoding="utf-8")
    table = text[text.index("### Errors and close codes"):text.index("## A later call")]
    return {code for row in table.splitlines() if row.startswith("|")
            for code in re.findall(r"`([a-z_]+)`", row.split("|")[2]) if code != "code"}  # not the heading


def test_every_voice_error_code_is_a_sentence_in_every_language():
    codes = documented_voice_codes()
    assert {"token_expired", "no_live_capability", "voice_minutes_per_day", "stalled", "bad_audio"} <= codes
    for tag in OFFERED:
        catalogue = load(tag)
        missing = sorted(code for code in codes | set(CLIENT_VOICE_CODES) if f"voice.error.{code}" not in catalogue)
        assert missing == [], f"{tag}: no sentence for {missing}"
        for code in codes:
            sentence = catalogue[f"voice.error.{code}"]
            assert sentence.endswith((".", "。", ")", "）")) and len(sentence) > 10, (tag, code, sentence)
