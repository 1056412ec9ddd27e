"""LLM providers behind one small Protocol; each takes a base URL, so tests use a local fake.

Errors::

    LLMError            the provider failed or answered with nothing usable
"""

from __future__ import annotations

from typing import Protocol


class LLMError(Exception):
    pass


class LLMProvider(Protocol):
    name: str

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> str:
        """Return the model's text answer to ``prompt``.

        Raises:
            LLMError: the call failed or returned no text.
        """
        ...


def _genai_transport_error() -> type[Exception]:
    # google-genai moved from httpx to its fork httpx2; both name their base error HTTPError.
    try:
        import httpx2 as transport
    except ImportError:
        import httpx as transport  # type: ignore[no-redef]
    return transport.HTTPError


class GeminiProvider:
    name = "gemini"

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None = None, timeout_s: float = 10
    ) -> None:
        from google import genai
        from google.genai import errors, types

        self._types = types
        self._errors = (errors.APIError, _genai_transport_error())
        options = types.HttpOptions(base_url=base_url, timeout=int(timeout_s * 1000))
        self._client = genai.Client(api_key=api_key, http_options=options)
        self._model = model

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> str:
        config = self._types.GenerateContentConfig(
            system_instruction=system, max_output_tokens=max_tokens, temperature=0
        )
        try:
            response = self._client.models.generate_content(
                model=self._model, contents=prompt, config=config
            )
        except self._errors as e:
            raise LLMError(f"gemini: {type(e).__name__}") from e
        if not response.text:
            raise LLMError("gemini: empty answer")
        return response.text


class OpenAIProvider:
    name = "openai"

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None = None, timeout_s: float = 10
    ) -> None:
        import openai

        self._errors = (openai.APIError,)
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=1
        )
        self._model = model

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> str:
        try:
            response = self._client.chat.completions.create(
                model=self._model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                max_tokens=max_tokens,
                temperature=0,
            )
        except self._errors as e:
            raise LLMError(f"openai: {type(e).__name__}") from e
        text = response.choices[0].message.content if response.choices else None
        if not text:
            raise LLMError("openai: empty answer")
        return text


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None = None, timeout_s: float = 10
    ) -> None:
        import anthropic

        self._errors = (anthropic.APIError,)
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=1
        )
        self._model = model

    def complete(self, *, system: str, prompt: str, max_tokens: int = 256) -> str:
        try:
            response = self._client.messages.create(
                model=self._model,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
            )
        except self._errors as e:
            raise LLMError(f"anthropic: {type(e).__name__}") from e
        text = "".join(
            block.text for block in response.content if getattr(block, "type", "") == "text"
        )
        if not text:
            raise LLMError("anthropic: empty answer")
        return text


_PROVIDERS = {"gemini": GeminiProvider, "openai": OpenAIProvider, "anthropic": AnthropicProvider}


def create_provider(name: str, *, api_key: str, model: str, base_url: str | None) -> LLMProvider:
    try:
        factory = _PROVIDERS[name]
    except KeyError:
        raise LLMError(
            f"unknown LLM provider {name!r}; use one of {', '.join(_PROVIDERS)}"
        ) from None
    return factory(api_key=api_key, model=model, base_url=base_url)
