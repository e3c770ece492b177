"""One concept, one place (issue 14, item 6): each rule is defined once in the kernel and used everywhere.

The source scans fail when a second definition appears; the behaviour tests pin what the one
definition does.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from roleplay_core import CHARACTER, LANGUAGE_TAG, LEARNER, loads_json
from roleplay_core.settings import build_settings
from roleplay_core.storage import InvalidKey, time_ordered_id, validate_key
from roleplay_core.text import control_character

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("roleplay_core/**/*.py"), *ROOT.glob("plugins/*/roleplay_*/**/*.py")])

#: (what, a pattern of its definition, the one file allowed to hold it)
DEFINITIONS = [
    ("control-character rule", r"\\x00-|\\x7f|category\([^)]*\) == \"Cc\"", "roleplay_core/text.py"),
    ("BCP 47 tag pattern", r"\{2,3\}\(-", "roleplay_core/script.py"),
    ("hardened JSON parsing", r"parse_constant=", "roleplay_core/serialization.py"),
    ("the lone-surrogate check of parsed JSON", r"json\.dumps\(\w+, ensure_ascii=False\)\.encode\(\"utf-8\"\)", "roleplay_core/serialization.py"),
    ("the learner role", r"^LEARNER = ", "roleplay_core/transcript.py"),
    ("the character role", r"^CHARACTER = ", "roleplay_core/transcript.py"),
    ("plugin-prefix lookup", r"plugins\.\{?\w*\}?\.prefix\"\)", "roleplay_core/settings.py"),
    ("time-ordered ids", r"time\.time\(\) \* 1000\):012x", "roleplay_core/storage/base.py"),
]


@pytest.mark.parametrize(("what", "pattern", "home"), DEFINITIONS, ids=[d[0] for d in DEFINITIONS])
def test_defined_in_one_place(what, pattern, home):
    found = sorted(str(path.relative_to(ROOT)) for path in SOURCES if re.search(pattern, path.read_text(), re.M))
    assert found == [home], f"the {what} is defined in {found}; keep it in {home} and import it"


def test_control_characters_are_one_rule():
    assert control_character("plain text, tabs\tand\nlines\r\n") is None
    assert control_character("nul\x00") == "U+0000"
    assert control_character("escape \x1b[31m") == "U+001B"
    assert control_character("del\x7f") == "U+007F"
    assert control_character("next line\x85") == "U+0085"  # C1 counts: it was missing in chat's copy
    assert control_character("a\tb", one_line=True) == "U+0009"
    assert control_character("a\nb", one_line=True) == "U+000A"
    assert control_character("zero\u200dwidth joiner is not a control character") is None


def test_storage_keys_use_the_one_line_rule():
    for bad in ("a\nb", "a\tb", "a\x85b", "a\\b"):
        with pytest.raises(InvalidKey):
            validate_key(bad)
    assert validate_key("users/émail@example.com") == "users/émail@example.com"


@pytest.mark.parametrize("tag", ["en", "zh-Hant", "es-419", "en-US", "en-US-x-twain", "de-CH-1996", "sgn-BE-FR"])
def test_language_tags_in_their_common_shapes_pass(tag):
    assert LANGUAGE_TAG.match(tag)


@pytest.mark.parametrize("tag", ["", "e", "english", "en_US", "en-", "en--US", "en-abcdefghi", "en\n", "-en"])
def test_what_is_no_language_tag_fails(tag):
    assert not LANGUAGE_TAG.match(tag)


@pytest.mark.parametrize(("text", "reason"), [
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": Infinity}', "Infinity is not a JSON number"),
    ('{"a": 1e999}', "too large"),
    ('"\\ud800"', "unpaired surrogate"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("{", "not valid JSON"),
    (b"\xff", "not valid JSON"),
])
def test_loads_json_refuses_what_is_no_usable_json(text, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        loads_json(text)


def test_loads_json_reads_plain_json():
    assert loads_json('{"a": [1, 2.5, "ü", null, true]}') == {"a": [1, 2.5, "ü", None, True]}
    assert loads_json(b'{"a": 1}') == {"a": 1}


def test_the_roles_are_the_words_the_api_uses():
    assert (LEARNER, CHARACTER) == ("learner", "character")


def test_the_plugin_prefix_is_read_one_way():
    settings = build_settings("development", layers={}, overrides={"plugins.auth.prefix": "/api/"})
    assert settings.plugin_prefix("auth") == "/api"
    assert settings.plugin_prefix("chat") == ""


def test_time_ordered_ids_sort_by_creation_and_differ_within_a_millisecond():
    first = time_ordered_id()
    time.sleep(0.002)
    later = [time_ordered_id() for _ in range(50)]
    assert all(first < other for other in later)
    assert len(set(later)) == 50
    assert len(first) == 24 and re.fullmatch("[0-9a-f]{24}", first)
    assert len(time_ordered_id(10)) == 32
