"""Short-lived dialogue state per contact (pending clarifications and the like).

Durable facts (consent, handoffs) live in the database; this holds what may be forgotten
after a day of silence. One Redis hash per contact with a TTL, or a dict in-process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from redis.typing import EncodableT, FieldT


class ConversationStateStore(Protocol):
    def get(self, org_id: int, contact_id: int) -> dict[str, str]:
        """Return the state fields of one contact (empty when none or expired)."""
        ...

    def update(self, org_id: int, contact_id: int, fields: dict[str, str]) -> None:
        """Set some fields and restart the expiry."""
        ...

    def clear(self, org_id: int, contact_id: int) -> None:
        """Forget the contact's state."""
        ...

    def erase_subject(self, org_id: int, contact_id: int) -> None:
        """Remove everything held about one contact (erasure)."""
        ...

    def erase_organization(self, org_id: int) -> None:
        """Remove everything held about an organization."""
        ...


def _key(prefix: str, org_id: int, contact_id: int) -> str:
    return f"{prefix}{org_id}:{contact_id}"


class InMemoryConversationState:
    def __init__(self, *, ttl_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[tuple[int, int], tuple[float, dict[str, str]]] = {}

    def get(self, org_id: int, contact_id: int) -> dict[str, str]:
        with self._lock:
            item = self._data.get((org_id, contact_id))
            if item is None:
                return {}
            expires, fields = item
            if expires <= self._clock():
                del self._data[(org_id, contact_id)]
                return {}
            return dict(fields)

    def update(self, org_id: int, contact_id: int, fields: dict[str, str]) -> None:
        with self._lock:
            _, current = self._data.get((org_id, contact_id), (0.0, {}))
            merged = {**current, **fields}
            self._data[(org_id, contact_id)] = (self._clock() + self._ttl, merged)

    def clear(self, org_id: int, contact_id: int) -> None:
        with self._lock:
            self._data.pop((org_id, contact_id), None)

    def erase_subject(self, org_id: int, contact_id: int) -> None:
        self.clear(org_id, contact_id)

    def erase_organization(self, org_id: int) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == org_id]:
                del self._data[key]


class RedisConversationState:
    def __init__(
        self, client: redis.Redis, *, ttl_seconds: int, prefix: str = "imaradesk:state:"
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix

    def get(self, org_id: int, contact_id: int) -> dict[str, str]:
        raw = self._client.hgetall(_key(self._prefix, org_id, contact_id))
        return {_text(k): _text(v) for k, v in raw.items()}

    def update(self, org_id: int, contact_id: int, fields: dict[str, str]) -> None:
        key = _key(self._prefix, org_id, contact_id)
        with self._client.pipeline(transaction=True) as pipe:
            # In redis-py's own key and value types (its stubs refuse a dict[str, str]).
            mapping: dict[FieldT, EncodableT] = {k: v for k, v in fields.items()}
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, self._ttl)
            pipe.execute()

    def clear(self, org_id: int, contact_id: int) -> None:
        self._client.delete(_key(self._prefix, org_id, contact_id))

    def erase_subject(self, org_id: int, contact_id: int) -> None:
        self.clear(org_id, contact_id)

    def erase_organization(self, org_id: int) -> None:
        pattern = f"{self._prefix}{org_id}:*"
        batch = list(self._client.scan_iter(match=pattern, count=500))
        if batch:
            self._client.delete(*batch)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
