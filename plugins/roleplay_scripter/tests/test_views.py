"""``roleplay_scripter.views``: the JSON shapes of authored and pack scripts, their ETags and list filters."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from roleplay_scripter.records import Publication, ScriptHead, ScriptVersion
from roleplay_scripter.views import (
    head_detail,
    head_summary,
    matches,
    pack_detail,
    pack_etag,
    pack_summary,
    version_detail,
    version_summary,
)
from scripter_support import sample

from roleplay_core import script_from_dict

T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC)
SCRIPT = script_from_dict(sample())


def head(**changes) -> ScriptHead:
    base = ScriptHead(id=SCRIPT.id, script=SCRIPT, created_at=T0, created_by="u-1", updated_at=T1, updated_by="u-2")
    return attrs.evolve(base, **changes)


def test_a_pack_etag_is_strong_stable_and_follows_the_content():
    etag = pack_etag(SCRIPT)
    assert etag.startswith('"pack-') and etag.endswith('"') and len(etag) == len('"pack-"') + 20
    assert pack_etag(script_from_dict(sample())) == etag
    assert pack_etag(script_from_dict(sample(title="Another title"))) != etag


def test_authored_and_pack_summaries_have_the_same_keys():
    assert set(head_summary(head())) == set(pack_summary(SCRIPT))
    assert set(head_detail(head())) == set(pack_detail(SCRIPT))


def test_an_authored_summary_says_its_versions_status_and_etag():
    summary = head_summary(head(status="published", latest=3, published=2))
    assert summary["id"] == "library-late-fee" and summary["tags"] == ["customer-service", "library"]
    assert (summary["source"], summary["status"], summary["version"], summary["published_version"]) == (
        "authored", "published", 3, 2)
    assert summary["unpublished_changes"] is True
    assert summary["etag"] == '"v3"'
    assert (summary["updated_at"], summary["updated_by"]) == (T1.isoformat(), "u-2")


def test_a_pack_summary_is_published_read_only_content():
    summary = pack_summary(SCRIPT)
    assert (summary["source"], summary["status"], summary["from_pack"]) == ("pack", "published", True)
    assert summary["version"] is None and summary["updated_at"] is None and summary["etag"] == pack_etag(SCRIPT)


def test_an_authored_detail_lists_publications_and_the_plain_script():
    detail = head_detail(head(status="archived", latest=2, published=1, archived_at=T1,
                              publications=(Publication(version=1, published_at=T0, published_by="u-3"),)))
    assert detail["publications"] == [{"version": 1, "published_at": T0.isoformat(), "published_by": "u-3"}]
    assert detail["archived_at"] == T1.isoformat() and detail["created_by"] == "u-1"
    assert detail["script"]["characters"][0]["traits"] == ["grumpy", "fair"]
    assert pack_detail(SCRIPT)["publications"] == [] and pack_detail(SCRIPT)["script"] == detail["script"]


def test_a_version_summary_marks_latest_and_published_but_not_once_archived():
    publications = (Publication(version=1, published_at=T0, published_by="u-3"),)
    first = ScriptVersion(number=1, script=SCRIPT, created_at=T0, created_by="u-1", note="created")
    live = head(status="published", latest=2, published=1, publications=publications)
    summary = version_summary(first, live)
    assert (summary["latest"], summary["published"], summary["published_at"]) == (False, True, [T0.isoformat()])
    assert version_summary(first, attrs.evolve(live, status="archived"))["published"] is False
    detail = version_detail(first, live)
    assert detail["id"] == SCRIPT.id and detail["note"] == "created" and detail["script"]["id"] == SCRIPT.id


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, True),
    ({"status": "published"}, True),
    ({"status": "draft"}, False),
    ({"source": "authored"}, False),
    ({"language": "EN"}, True),
    ({"language": "es"}, False),
    ({"tag": "library"}, True),
    ({"tag": "librar"}, False),
    ({"text": "SAM front"}, True),  # every word, any case, across title, setting, characters...
    ({"text": "sam dentist"}, False),
])
def test_list_filters(filters, expected):
    wanted = {"status": None, "language": None, "tag": None, "text": None, "source": None, **filters}
    assert matches(pack_summary(SCRIPT), SCRIPT, **wanted) is expected


def test_a_language_filter_matches_regional_tags_of_the_language_only():
    regional = script_from_dict(sample(language="en-GB"))
    english = dict(status=None, tag=None, text=None, source=None)
    assert matches(pack_summary(regional), regional, language="en", **english)
    assert not matches(pack_summary(regional), regional, language="en-US", **english)
    other = script_from_dict(sample(language="eno"))
    assert not matches(pack_summary(other), other, language="en", **english)
