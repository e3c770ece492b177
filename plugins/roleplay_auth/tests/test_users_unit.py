"""Unit tests of the user store: search pagination across storage page boundaries."""

from __future__ import annotations

import pytest
from roleplay_auth.users import User, UserStore, new_user_id

from roleplay_core.storage import MemoryStorage


@pytest.mark.anyio
@pytest.mark.parametrize("list_page, limit", [(2, 3), (2, 2), (3, 1), (5, 7), (200, 4)])
async def test_search_pages_cover_every_match_once(list_page, limit):
    store = UserStore(MemoryStorage())
    store.list_page = list_page
    for n in range(7):
        await store.create(User(id=new_user_id(), email=f"u{n}@example.com", display_name=f"Match {n}"))
        await store.create(User(id=new_user_id(), email=f"o{n}@example.org", display_name=f"Other {n}"))
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        users, cursor = await store.search("match", limit=limit, cursor=cursor)
        assert len(users) <= limit
        seen += [u.email for u in users]
        if cursor is None:
            break
    assert sorted(seen) == [f"u{n}@example.com" for n in range(7)]
    assert len(seen) == 7


@pytest.mark.anyio
async def test_a_parsed_user_is_reused_only_while_its_record_is_unchanged():
    """Two processes on one storage: a change made by either is seen by the other at once."""
    import attrs

    storage = MemoryStorage()
    here, there = UserStore(storage), UserStore(storage)
    user = await here.create(User(id=new_user_id(), email="a@example.com", display_name="A"))
    first = await here.get_user(user.id)
    assert (await here.get_user(user.id)) is first, "unchanged record: the parsed user is reused"
    await there.update(user.id, lambda u: attrs.evolve(u, disabled=True))
    assert (await here.get_user(user.id)).disabled, "changed elsewhere: parsed again"
    await there.delete(user.id)
    assert await here.get_user(user.id) is None
    here.PARSED_USERS = 2
    for n in range(5):
        await here.get_user((await here.create(User(id=new_user_id(), email=f"b{n}@example.com",
                                                     display_name="B"))).id)
    assert len(here._parsed) == 2, "the cache is bounded"
