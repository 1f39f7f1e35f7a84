"""``VersionedCache``: a value only for the version it was derived from; one entry per key; bounded, least
recently used out first."""

import pytest

from renovation_common.versioned_cache import VersionedCache


def test_a_value_is_served_only_for_its_version() -> None:
    cache: VersionedCache[str, bytes] = VersionedCache()
    assert cache.get("c1", 1) is None
    cache.put("c1", (1, "a"), b"one")
    assert cache.get("c1", (1, "a")) == b"one"
    assert cache.get("c1", (2, "a")) is None  # the state moved on: not served
    cache.put("c1", (2, "a"), b"two")  # replaces the older one
    assert cache.get("c1", (1, "a")) is None and cache.get("c1", (2, "a")) == b"two" and len(cache) == 1


def test_bounded_least_recently_used_first() -> None:
    cache: VersionedCache[int, int] = VersionedCache(max_entries=2)
    cache.put(1, 0, 10)
    cache.put(2, 0, 20)
    assert cache.get(1, 0) == 10  # 1 is now the most recently used
    cache.put(3, 0, 30)
    assert cache.get(2, 0) is None and cache.get(1, 0) == 10 and cache.get(3, 0) == 30 and len(cache) == 2
    with pytest.raises(ValueError):
        VersionedCache(max_entries=0)
