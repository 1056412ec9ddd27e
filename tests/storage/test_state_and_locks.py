"""Contract suites for conversation state and locks, run on the in-process and Redis versions."""

from __future__ import annotations

import threading
import time

import pytest

from imaradesk.bot.dialogue import conversation_lock_name
from imaradesk.storage.conversation_state import InMemoryConversationState, RedisConversationState
from imaradesk.storage.locks import InProcessLockManager, LockTimeout, RedisLockManager


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def state_store(request: pytest.FixtureRequest):
    if request.param == "memory":
        return InMemoryConversationState(ttl_seconds=60)
    return RedisConversationState(request.getfixturevalue("redis_client"), ttl_seconds=60)


def test_state_is_per_contact_and_merges_updates(state_store) -> None:
    assert state_store.get(1, 10) == {}
    state_store.update(1, 10, {"clarifications": "1"})
    state_store.update(1, 10, {"suggestions": "4,5"})
    state_store.update(1, 11, {"clarifications": "2"})
    state_store.update(2, 10, {"clarifications": "3"})
    assert state_store.get(1, 10) == {"clarifications": "1", "suggestions": "4,5"}
    assert state_store.get(1, 11) == {"clarifications": "2"}
    assert state_store.get(2, 10) == {"clarifications": "3"}


def test_erasing_a_subject_or_an_organization_removes_only_theirs(state_store) -> None:
    for org, contact in [(1, 10), (1, 11), (2, 10)]:
        state_store.update(org, contact, {"k": "v"})
    state_store.erase_subject(1, 10)
    assert state_store.get(1, 10) == {} and state_store.get(1, 11) == {"k": "v"}
    state_store.erase_organization(1)
    assert state_store.get(1, 11) == {} and state_store.get(2, 10) == {"k": "v"}


def test_in_memory_state_expires() -> None:
    clock = FakeMonotonic()
    store = InMemoryConversationState(ttl_seconds=60, clock=clock)
    store.update(1, 10, {"k": "v"})
    clock.now = 59
    assert store.get(1, 10) == {"k": "v"}
    clock.now = 61
    assert store.get(1, 10) == {}


@pytest.mark.redis
def test_redis_state_has_a_ttl(redis_client) -> None:
    store = RedisConversationState(redis_client, ttl_seconds=60)
    store.update(1, 10, {"k": "v"})
    assert 0 < redis_client.ttl("imaradesk:state:1:10") <= 60


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def locks_factory(request: pytest.FixtureRequest):
    if request.param == "memory":
        shared = {}

        def memory(wait: float):
            # In-process locks are shared by one manager's threads.
            return shared.setdefault(wait, InProcessLockManager(wait_seconds=wait))

        return memory
    client = request.getfixturevalue("redis_client")
    return lambda wait: RedisLockManager(client, wait_seconds=wait)


def test_a_lock_excludes_other_holders_of_the_same_key(locks_factory) -> None:
    inside = []
    overlaps = []

    def work() -> None:
        with locks_factory(5.0).hold("org:1:conv"):
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(True)
            time.sleep(0.02)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_different_keys_do_not_wait_for_each_other(locks_factory) -> None:
    manager = locks_factory(0.2)
    with manager.hold("a"), manager.hold("b"):
        pass


def test_waiting_too_long_raises(locks_factory) -> None:
    manager = locks_factory(0.2)
    entered = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with manager.hold("busy"):
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    entered.wait(5)
    try:
        with pytest.raises(LockTimeout):
            with manager.hold("busy"):
                pass
    finally:
        release.set()
        thread.join()
    with manager.hold("busy"):
        pass


@pytest.mark.redis
def test_a_held_conversation_lock_does_not_put_the_phone_number_in_redis(redis_client) -> None:
    """Proves Redis (and a LockTimeout's message) see a digest of the sender, while each
    conversation still gets its own lock."""
    manager = RedisLockManager(redis_client, wait_seconds=0.2)
    name = conversation_lock_name(7, "whatsapp", "whatsapp:+254722000001")
    assert name != conversation_lock_name(7, "whatsapp", "whatsapp:+254722000002")
    assert name != conversation_lock_name(8, "whatsapp", "whatsapp:+254722000001")
    with manager.hold(name):
        keys = [key.decode() for key in redis_client.keys("imaradesk:lock:*")]
        assert keys == [f"imaradesk:lock:{name}"]
        assert not any("254722000001" in key for key in keys)
