"""``roleplay_scripter.diff``: structural changes between two script versions, and the text diff."""

from __future__ import annotations

import copy

from roleplay_scripter.diff import Change, changes, unified
from scripter_support import sample


def test_equal_versions_have_no_changes_and_an_empty_text_diff():
    assert changes(sample(), sample()) == []
    assert unified(sample(), sample(), "v1", "v2") == ""


def test_a_changed_scalar_is_named_by_its_path():
    new = sample(title="Library fine")
    assert changes(sample(), new) == [Change(path="title", op="changed", old="Library late fee", new="Library fine")]


def test_added_and_removed_keys_carry_their_value():
    old, new = sample(), sample()
    del new["summary"]
    new["extra"] = {"a": 1}
    assert changes(old, new) == [
        Change(path="summary", op="removed", old="A reader disputes a late fee."),
        Change(path="extra", op="added", new={"a": 1}),
    ]


def test_lists_of_things_with_ids_are_matched_by_id_not_position():
    old, new = sample(), sample()
    inserted = {"id": "hello", "triggers": ["hi"], "replies": ["Hi."]}
    new["scripted"]["beats"].insert(0, inserted)
    new["scripted"]["beats"][2]["replies"][1] = "Fine."  # the apology beat, now third
    assert changes(old, new) == [
        Change(path="scripted.beats[hello]", op="added", new=inserted),
        Change(path="scripted.beats[apology].replies[1]", op="changed", old="Okay.", new="Fine."),
    ]


def test_a_removed_thing_with_an_id_is_one_change():
    old, new = sample(), sample()
    removed = new["scripted"]["beats"].pop(1)
    assert changes(old, new) == [Change(path="scripted.beats[apology]", op="removed", old=removed)]


def test_lists_without_distinct_ids_are_compared_by_position():
    assert changes({"tags": ["a", "b"]}, {"tags": ["a", "c", "d"]}) == [
        Change(path="tags[1]", op="changed", old="b", new="c"),
        Change(path="tags[2]", op="added", new="d"),
    ]
    same_id = [{"id": "x", "v": 1}, {"id": "x", "v": 2}]
    assert changes({"l": same_id}, {"l": [{"id": "x", "v": 1}]}) == [
        Change(path="l[1]", op="removed", old={"id": "x", "v": 2})]


def test_a_list_of_ids_from_empty_is_keyed_too():
    assert changes({"beats": []}, {"beats": [{"id": "b"}]}) == [Change(path="beats[b]", op="added", new={"id": "b"})]
    assert changes({"beats": [{"id": "b"}]}, {"beats": []}) == [Change(path="beats[b]", op="removed", old={"id": "b"})]


def test_a_changed_root_value_is_named_dollar():
    assert changes(1, 2) == [Change(path="$", op="changed", old=1, new=2)]


def test_the_unified_diff_is_of_the_yaml_and_names_both_versions():
    old = sample()
    new = copy.deepcopy(old)
    new["title"] = "Library fine"
    text = unified(old, new, "v1", "v2")
    assert text.startswith("--- v1\n+++ v2\n")
    assert "-title: Library late fee\n" in text and "+title: Library fine\n" in text
