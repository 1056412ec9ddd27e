"""One process builds an organization's index; the others answer meanwhile and load its files.

Two KnowledgeBase objects on one database and one index directory stand for two processes
(their caches and lock files are separate, as in two processes: flock locks belong to an
open file, so two opens of one lock file exclude each other even in one process). The builder's
embedder can be held mid-build, so what the other "process" does during a build is observable.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import numpy as np
import pytest
import redis

from imaradesk.knowledge_index.documents import parse_csv
from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.knowledge_index.knowledge_base import KnowledgeBase
from imaradesk.knowledge_index.shared_builds import RedisRevisionFeed, RevisionFeed
from imaradesk.services import answering_settings
from imaradesk.storage.db import Database
from tests.helpers import WALLET_FAQ, CountingEmbedder, seed_org

NEW_QUESTION = "How do I close my account?"
WITH_NEW_ENTRY = WALLET_FAQ + f"close,Account,{NEW_QUESTION},Visit any shop with your ID.\n"


class HeldEmbedder(HashingEmbedder):
    """Stops when asked to embed ``NEW_QUESTION`` until the test lets it go on."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = threading.Event()
        self.go_on = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if NEW_QUESTION in texts:
            self.reached.set()
            assert self.go_on.wait(30), "the test never let the build finish"
        return super().embed(texts)


def process(services, embedder, feed: RevisionFeed | None = None) -> KnowledgeBase:
    settings = services.settings
    return KnowledgeBase(
        database=services.database,
        embedder=embedder,
        index_dir=settings.index_dir,
        answering=answering_settings(settings),
        clock=services.clock,
        feed=feed,
    )


def import_in_background(builder: KnowledgeBase, org_id: int) -> threading.Thread:
    worker = threading.Thread(
        target=builder.import_documents,
        args=(org_id, [parse_csv(WITH_NEW_ENTRY.encode(), "acme.csv")]),
    )
    worker.start()
    return worker


@pytest.fixture
def feeds(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    channel = f"test-revisions:{uuid.uuid4().hex}"  # tests share the machine's Redis
    yield RedisRevisionFeed(client, channel=channel), RedisRevisionFeed(client, channel=channel)
    client.close()


@pytest.mark.redis
def test_answers_come_from_the_previous_snapshot_during_a_build_elsewhere_then_from_the_new_one(
    make_services, database: Database, feeds
) -> None:
    builder_feed, listener_feed = feeds
    services = make_services(database)
    org = seed_org(services, "acme")
    held = HeldEmbedder()
    builder = process(services, held, builder_feed)
    questions = CountingEmbedder()
    other = process(services, questions, listener_feed)
    before = other.search(org.id, "How do I check my balance?", revision=org.kb_revision)
    assert before.best.external_id == "balance"
    assert questions.embedded == ["How do I check my balance?"], "loaded, not built"
    assert listener_feed.wait_subscribed(5)

    worker = import_in_background(builder, org.id)
    try:
        assert held.reached.wait(30)
        revision = services.organizations.get(org.id).kb_revision
        assert revision > org.kb_revision, "the rows are written; the build is under way"
        during = other.search(org.id, "How do I check my balance?", revision=revision)
        assert during.best.external_id == "balance"
        assert other.cached_revision(org.id) == org.kb_revision, "the previous snapshot answers"
        assert questions.embedded == ["How do I check my balance?"] * 2, (
            "the other process embedded only its questions: it did not build a second index"
        )
    finally:
        held.go_on.set()
        worker.join(30)

    announced = time.monotonic()
    while other.cached_revision(org.id) != revision:
        assert time.monotonic() - announced < 1.0, "the announcement loaded the new files"
        time.sleep(0.01)
    after = other.search(org.id, NEW_QUESTION, revision=revision)
    assert after.best.external_id == "close"
    assert len(questions.embedded) == 3, "the new snapshot came from the builder's files"


def test_a_process_with_nothing_to_answer_from_waits_for_the_build_and_loads_its_files(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme", faq_csv=None)
    held = HeldEmbedder()
    builder = process(services, held)
    questions = CountingEmbedder()
    other = process(services, questions)

    worker = import_in_background(builder, org.id)
    found: list = []
    try:
        assert held.reached.wait(30)
        revision = services.organizations.get(org.id).kb_revision
        asking = threading.Thread(
            target=lambda: found.append(other.search(org.id, NEW_QUESTION, revision=revision))
        )
        asking.start()
        asking.join(0.5)
        assert asking.is_alive(), "with no snapshot at all the search waits for the builder"
    finally:
        held.go_on.set()
        worker.join(30)
    asking.join(30)
    assert found and found[0].best.external_id == "close"
    assert questions.embedded == [NEW_QUESTION], "it loaded the builder's files, built nothing"


def test_without_news_the_next_search_loads_the_newer_files(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    builder = process(services, HashingEmbedder())
    questions = CountingEmbedder()
    other = process(services, questions)
    other.search(org.id, "How do I check my balance?", revision=org.kb_revision)

    builder.import_documents(org.id, [parse_csv(WITH_NEW_ENTRY.encode(), "acme.csv")])
    revision = services.organizations.get(org.id).kb_revision
    assert other.cached_revision(org.id) == org.kb_revision, "no feed: nobody told it"
    assert other.search(org.id, NEW_QUESTION, revision=revision).best.external_id == "close"
    assert questions.embedded == ["How do I check my balance?", NEW_QUESTION]


@pytest.mark.redis
def test_the_feed_survives_a_dropped_connection(redis_url: str) -> None:
    """A listener whose Redis connection is killed subscribes again and hears later news."""
    name = f"feed-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url)
    channel = f"test-revisions:{name}"
    listener = RedisRevisionFeed(redis.Redis.from_url(redis_url, client_name=name), channel=channel)
    publisher = RedisRevisionFeed(client, channel=channel)
    heard: list[tuple[int, str, int]] = []
    listener.listen(lambda *news: heard.append(news))
    assert listener.wait_subscribed(5)
    killed = [
        client.client_kill_filter(_id=info["id"])
        for info in client.client_list()
        if info.get("name") == name
    ]
    assert killed, "the listener's connection was found and killed"
    deadline = time.monotonic() + 10
    while not heard:
        publisher.publish(7, "primary", 3)
        assert time.monotonic() < deadline, "the listener never came back"
        time.sleep(0.2)
    assert heard[0] == (7, "primary", 3)
    client.close()
