"""A per-process cache of values derived from database state, exact at N replicas.

Each value is stored with the version of the state it was derived from; :meth:`VersionedCache.get` returns it
only for that very version. The caller reads the current version from the database on every use (one cheap
statement, in the same read as its authorisation), so a replica never serves a value older than the committed
state it just read: a stale entry is not served, it is replaced. The version must change with every change of
the state (a counter bumped in the writing transaction, or a row's ``xmin``).

Bounded (least recently used out first). Hold aggregates only: never personal data.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class VersionedCache(Generic[K, V]):
    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[Hashable, V]] = OrderedDict()

    def get(self, key: K, version: Hashable) -> V | None:
        """The value stored for ``key`` if it was derived from ``version``, else ``None``."""
        found = self._entries.get(key)
        if found is None or found[0] != version:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: K, version: Hashable, value: V) -> None:
        """Store ``value`` as derived from ``version`` (one entry per key: an older version's is replaced)."""
        self._entries[key] = (version, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
