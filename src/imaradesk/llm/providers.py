"""LLM providers behind one small Protocol; each takes a base URL, so tests use a local fake.

Every provider is the vendor's own SDK with its client timeout set and its retries off: a
provider that is slow or down must cost one timeout, not a timeout per retry, because the
customer is waiting and the bot has an extractive answer to fall back on.

Errors::

    LLMError            the provider failed or answered with nothing usable
     └── LLMTimeout     no answer within the timeout
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

DEFAULT_TIMEOUT_S = 8.0


class LLMError(Exception):
    """The call failed; tokens the provider still reported (an empty answer) are kept."""

    def __init__(self, message: str, *, input_tokens: int = 0, output_tokens: int = 0) -> None:
        super().__init__(message)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


class LLMTimeout(LLMError):
    pass


@dataclass(frozen=True)
class Completion:
    """A provider's answer and the tokens it says it used."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0


class LLMProvider(Protocol):
    name: str
    model: str

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> Completion:
        """Return the model's answer to ``prompt`` under the ``system`` instructions.

        Raises:
            LLMTimeout: no answer within the provider's timeout.
            LLMError: the call failed or returned no text.
        """
        ...


def _genai_transport() -> tuple[type[Exception], type[Exception]]:
    # google-genai moved from httpx to its fork httpx2; both name their errors alike.
    try:
        import httpx2 as transport
    except ImportError:
        import httpx as transport  # type: ignore[no-redef]
    return transport.HTTPError, transport.TimeoutException


class GeminiProvider:
    name = "gemini"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        from google import genai
        from google.genai import errors, types

        self._types = types
        transport_error, self._timeout = _genai_transport()
        self._errors = (errors.APIError, transport_error)
        options = types.HttpOptions(
            base_url=base_url,
            timeout=max(1, int(timeout_s * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        self._client = genai.Client(api_key=api_key, http_options=options)
        self.model = model

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> Completion:
        config = self._types.GenerateContentConfig(
            system_instruction=system, max_output_tokens=max_tokens, temperature=0
        )
        try:
            response = self._client.models.generate_content(
                model=self.model, contents=prompt, config=config
            )
        except self._timeout as e:
            raise LLMTimeout(f"gemini: {type(e).__name__}") from e
        except self._errors as e:
            raise LLMError(f"gemini: {type(e).__name__}") from e
        except ValueError as e:  # a body that is not the protocol's JSON
            raise LLMError("gemini: unreadable answer") from e
        usage = response.usage_metadata
        # Thinking tokens are billed as output.
        input_tokens = (usage.prompt_token_count or 0) if usage else 0
        output_tokens = (
            (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0) if usage else 0
        )
        if not response.text:
            raise LLMError(
                "gemini: empty answer", input_tokens=input_tokens, output_tokens=output_tokens
            )
        return Completion(response.text, input_tokens, output_tokens)


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        import openai

        self._timeout = openai.APITimeoutError
        self._errors = (openai.APIError,)
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
        )
        self.model = model

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> Completion:
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                max_completion_tokens=max_tokens,
                temperature=0,
            )
        except self._timeout as e:
            raise LLMTimeout(f"openai: {type(e).__name__}") from e
        except self._errors as e:
            raise LLMError(f"openai: {type(e).__name__}") from e
        if not hasattr(response, "choices"):  # the SDK hands back a body that is not JSON as is
            raise LLMError("openai: unreadable answer")
        usage = response.usage
        input_tokens = usage.prompt_tokens if usage else 0
        output_tokens = usage.completion_tokens if usage else 0
        text = response.choices[0].message.content if response.choices else None
        if not text:
            raise LLMError(
                "openai: empty answer", input_tokens=input_tokens, output_tokens=output_tokens
            )
        return Completion(text, input_tokens, output_tokens)


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        import anthropic

        self._timeout = anthropic.APITimeoutError
        self._errors = (anthropic.APIError,)
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
        )
        self.model = model

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> Completion:
        try:
            response = self._client.messages.create(
                model=self.model,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
            )
        except self._timeout as e:
            raise LLMTimeout(f"anthropic: {type(e).__name__}") from e
        except self._errors as e:
            raise LLMError(f"anthropic: {type(e).__name__}") from e
        if not hasattr(response, "content"):  # the SDK hands back a body that is not JSON as is
            raise LLMError("anthropic: unreadable answer")
        usage = response.usage
        input_tokens = usage.input_tokens if usage else 0
        output_tokens = usage.output_tokens if usage else 0
        text = "".join(
            block.text for block in response.content if getattr(block, "type", "") == "text"
        )
        if not text:
            raise LLMError(
                "anthropic: empty answer", input_tokens=input_tokens, output_tokens=output_tokens
            )
        return Completion(text, input_tokens, output_tokens)


PROVIDER_NAMES = ("gemini", "openai", "anthropic")
_PROVIDERS = {"gemini": GeminiProvider, "openai": OpenAIProvider, "anthropic": AnthropicProvider}


def create_provider(
    name: str,
    *,
    api_key: str,
    model: str,
    base_url: str | None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> LLMProvider:
    """The named provider's SDK client; LLMError for an unknown name."""
    try:
        factory = _PROVIDERS[name]
    except KeyError:
        raise LLMError(
            f"unknown LLM provider {name!r}; use one of {', '.join(_PROVIDERS)}"
        ) from None
    return factory(api_key=api_key, model=model, base_url=base_url or None, timeout_s=timeout_s)
