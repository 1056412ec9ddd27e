"""The only way text reaches an external AI provider.

It refuses when the organization keeps its data away from AI providers, or the contact has
restricted processing, redacts personal data before anything leaves, puts the originals back
in the answer, and logs no text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from imaradesk.llm.providers import LLMError, LLMProvider
from imaradesk.pii.redactor import Redactor
from imaradesk.storage.models import Organization

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayAnswer:
    text: str
    redacted_values: int


class AIGateway:
    def __init__(self, provider: LLMProvider | None, *, redactor: Redactor | None = None) -> None:
        self._provider = provider
        self._redactor = redactor or Redactor()

    @property
    def configured(self) -> bool:
        return self._provider is not None

    def allowed_for(self, org: Organization, *, contact_restricted: bool = False) -> bool:
        return self._provider is not None and org.external_ai_allowed and not contact_restricted

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
        """Ask the provider, or return None when this organization's text may not leave."""
        if not self.allowed_for(org, contact_restricted=contact_restricted):
            return None
        assert self._provider is not None
        redaction = self._redactor.redact(prompt, names=names)
        try:
            text = self._provider.complete(
                system=system, prompt=redaction.text, max_tokens=max_tokens
            )
        except LLMError as e:
            log.warning(
                "AI provider call failed",
                extra={"org_id": org.id, "purpose": purpose, "error": str(e)},
            )
            return None
        log.info(
            "AI provider used",
            extra={
                "org_id": org.id,
                "purpose": purpose,
                "provider": self._provider.name,
                "redacted": len(redaction.replacements),
            },
        )
        return GatewayAnswer(redaction.restore(text), len(redaction.replacements))
