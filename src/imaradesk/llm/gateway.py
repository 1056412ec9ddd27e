"""The only way text reaches an external AI provider.

It refuses when the organization keeps its data away from AI providers, or the contact has
restricted processing, redacts personal data before anything leaves, puts the originals back
in the answer, records each call's tokens per organization, and logs no text.

An organization may bring its own provider, model and key (sealed at rest with its data);
then only that provider is used for it, never the operator's: an organization that chose a
vendor has not agreed to another one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from imaradesk.llm.providers import (
    DEFAULT_TIMEOUT_S,
    LLMError,
    LLMProvider,
    LLMTimeout,
    create_provider,
)
from imaradesk.llm.usage import UsageLog
from imaradesk.pii.redactor import Redactor
from imaradesk.storage.models import Organization

log = logging.getLogger(__name__)

ProviderFactory = Callable[..., LLMProvider]
_MAX_CACHED_PROVIDERS = 256


@dataclass(frozen=True)
class GatewayAnswer:
    text: str
    redacted_values: int


@dataclass(frozen=True)
class ProviderCall:
    """One call as the gateway saw it; ``text`` (originals restored) is None when it failed."""

    provider: str
    model: str
    text: str | None
    failure: str | None  # "timeout" or "error"
    input_tokens: int
    output_tokens: int
    latency_ms: int
    redacted_values: int


class AIGateway:
    def __init__(
        self,
        provider: LLMProvider | None,
        *,
        redactor: Redactor | None = None,
        usage: UsageLog | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        provider_factory: ProviderFactory = create_provider,
    ) -> None:
        self._provider = provider
        self._redactor = redactor or Redactor()
        self._usage = usage
        self._timeout_s = timeout_s
        self._factory = provider_factory
        self._org_providers: dict[tuple[object, ...], LLMProvider] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self._provider is not None

    @property
    def usage(self) -> UsageLog | None:
        return self._usage

    def provider_for(self, org: Organization) -> LLMProvider | None:
        """The organization's own provider when it has one, else the operator's."""
        if not org.ai_provider:
            return self._provider
        if not org.ai_model or not org.ai_api_key:
            return None  # half configured: nothing, rather than another vendor
        # The key's digest, not the key, names the cached client; a new key builds a new one.
        digest = hashlib.sha256(org.ai_api_key.encode()).hexdigest()
        cache_key = (org.id, org.ai_provider, org.ai_model, org.ai_base_url or "", digest)
        with self._lock:
            cached = self._org_providers.get(cache_key)
        if cached is not None:
            return cached
        try:
            provider = self._factory(
                org.ai_provider,
                api_key=org.ai_api_key,
                model=org.ai_model,
                base_url=org.ai_base_url,
                timeout_s=self._timeout_s,
            )
        except LLMError:
            log.warning("organization's AI provider is unusable", extra={"org_id": org.id})
            return None
        with self._lock:
            for key in [k for k in self._org_providers if k[0] == org.id]:
                del self._org_providers[key]  # its old settings
            if len(self._org_providers) >= _MAX_CACHED_PROVIDERS:
                self._org_providers.pop(next(iter(self._org_providers)))
            self._org_providers[cache_key] = provider
        return provider

    def allowed_for(self, org: Organization, *, contact_restricted: bool = False) -> bool:
        return (
            org.external_ai_allowed
            and not contact_restricted
            and self.provider_for(org) is not None
        )

    def generates_for(self, org: Organization, contact_restricted: bool = False) -> bool:
        """Whether the AI writes this organization's answers (so a turn may take seconds)."""
        return org.generative_answers and self.allowed_for(
            org, contact_restricted=contact_restricted
        )

    def call(
        self,
        org: Organization,
        *,
        purpose: str,
        system: str,
        prompt: str,
        names: Iterable[str] = (),
        contact_restricted: bool = False,
        max_tokens: int = 256,
    ) -> ProviderCall | None:
        """Ask the provider with ``prompt`` redacted; None when this organization's text may not
        leave. The caller judges the answer and records it with ``record``."""
        if not self.allowed_for(org, contact_restricted=contact_restricted):
            return None
        provider = self.provider_for(org)
        assert provider is not None
        redaction = self._redactor.redact(prompt, names=names)
        started = time.perf_counter()
        text: str | None = None
        failure: str | None = None
        input_tokens = output_tokens = 0
        try:
            completion = provider.complete(
                system=system, prompt=redaction.text, max_tokens=max_tokens
            )
        except LLMError as e:
            failure = "timeout" if isinstance(e, LLMTimeout) else "error"
            input_tokens, output_tokens = e.input_tokens, e.output_tokens
            log.warning(
                "AI provider call failed",
                extra={"org_id": org.id, "purpose": purpose, "error": str(e)},
            )
        else:
            text = redaction.restore(completion.text)
            input_tokens, output_tokens = completion.input_tokens, completion.output_tokens
        latency_ms = round((time.perf_counter() - started) * 1000)
        log.info(
            "AI provider used",
            extra={
                "org_id": org.id,
                "purpose": purpose,
                "provider": provider.name,
                "redacted": len(redaction.replacements),
                "latency_ms": latency_ms,
            },
        )
        return ProviderCall(
            provider=provider.name,
            model=provider.model,
            text=text,
            failure=failure,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            redacted_values=len(redaction.replacements),
        )

    def record(
        self, org: Organization, call: ProviderCall, *, purpose: str, outcome: str | None = None
    ) -> None:
        """Store the call's usage: ``outcome`` as judged by the caller, else ok or its failure."""
        if self._usage is None or org.id is None:
            return
        self._usage.record(
            org_id=org.id,
            provider=call.provider,
            model=call.model,
            purpose=purpose,
            outcome=outcome or call.failure or "ok",
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            latency_ms=call.latency_ms,
        )

    def complete(
        self,
        org: Organization,
        *,
        purpose: str,
        system: str,
        prompt: str,
        names: Iterable[str] = (),
        contact_restricted: bool = False,
        max_tokens: int = 256,
    ) -> GatewayAnswer | None:
        """Ask the provider and record the call; None when not allowed or it failed."""
        call = self.call(
            org,
            purpose=purpose,
            system=system,
            prompt=prompt,
            names=names,
            contact_restricted=contact_restricted,
            max_tokens=max_tokens,
        )
        if call is None:
            return None
        self.record(org, call, purpose=purpose)
        if call.text is None:
            return None
        return GatewayAnswer(call.text, call.redacted_values)
