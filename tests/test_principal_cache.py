"""Keys remembered briefly (principal_cache.py): polls that miss together wait for one database lookup."""

from __future__ import annotations

import asyncio
import threading

import pytest

from framecast.domain import Principal
from framecast.principal_cache import PrincipalCache
from tests.waiting import settle


class Keys:
    """A key table read in a thread, held until released; counts the reads."""

    def __init__(self) -> None:
        self.reads = 0
        self.release = threading.Event()
        self.fail = False

    def look_up(self, token: str) -> Principal | None:
        self.reads += 1
        self.release.wait(10)
        if self.fail:
            raise ConnectionError("database unreachable")
        return Principal(key_id="k1", tenant="t1", token=token) if token == "good" else None


def test_polls_that_miss_together_share_one_lookup_and_the_key_is_then_remembered() -> None:
    async def scenario() -> None:
        cache, keys = PrincipalCache(ttl=60), Keys()
        polls = [asyncio.create_task(cache.get_or_look_up("good", keys.look_up)) for _ in range(30)]
        await settle()
        keys.release.set()
        found = await asyncio.gather(*polls)
        assert {p.tenant for p in found if p is not None} == {"t1"} and None not in found
        assert keys.reads == 1
        assert await cache.get_or_look_up("good", keys.look_up) is not None and keys.reads == 1

    asyncio.run(scenario())


def test_an_unknown_key_is_looked_up_again_and_a_failure_reaches_every_waiter_then_clears() -> None:
    async def scenario() -> None:
        cache, keys = PrincipalCache(ttl=60), Keys()
        keys.release.set()
        assert await cache.get_or_look_up("bad", keys.look_up) is None
        assert await cache.get_or_look_up("bad", keys.look_up) is None
        assert keys.reads == 2  # an unknown key is never remembered: one created a moment later works
        keys.fail = True
        polls = [asyncio.create_task(cache.get_or_look_up("good", keys.look_up)) for _ in range(5)]
        results = await asyncio.gather(*polls, return_exceptions=True)
        assert all(isinstance(r, ConnectionError) for r in results)
        keys.fail = False
        assert await cache.get_or_look_up("good", keys.look_up) is not None

    asyncio.run(scenario())


def test_a_cancelled_poll_does_not_cancel_the_lookup_the_others_wait_for() -> None:
    async def scenario() -> None:
        cache, keys = PrincipalCache(ttl=60), Keys()
        first = asyncio.create_task(cache.get_or_look_up("good", keys.look_up))
        second = asyncio.create_task(cache.get_or_look_up("good", keys.look_up))
        await settle()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        keys.release.set()
        assert await asyncio.wait_for(second, 10) is not None
        assert keys.reads == 1

    asyncio.run(scenario())
