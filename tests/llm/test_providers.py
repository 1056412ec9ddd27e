"""Each provider is its vendor's real SDK, talking to a local server that speaks its protocol.

These prove the parts of each SDK we rely on: the base URL override, the key in the right
header, the text and the token usage read from the provider's JSON, errors (401, 429, 500, a
body that is not JSON) raised as LLMError, a slow provider raised as LLMTimeout after the
client's timeout rather than after the server's delay, and no retries (one request per call).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from imaradesk.llm.providers import Completion, LLMError, LLMTimeout, create_provider
from tests.fakes.llm_servers import FAKES, Fail, FakeLLMServer, Malformed, Sleep

MODELS = {"gemini": "gemini-2.5-flash", "openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


@pytest.fixture(params=sorted(FAKES))
def fake(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    with FAKES[request.param](api_key="sk-test-123") as server:
        yield server


def provider_for(fake: FakeLLMServer, *, api_key: str = "sk-test-123", timeout_s: float = 5):
    return create_provider(
        fake.name,
        api_key=api_key,
        model=MODELS[fake.name],
        base_url=fake.base_url,
        timeout_s=timeout_s,
    )


def test_text_and_token_usage_come_from_the_provider_json(fake: FakeLLMServer) -> None:
    """The answer and the usage numbers the provider reported reach us unchanged."""
    fake.answer("Dial *483*1# [1].", input_tokens=123, output_tokens=9)
    result = provider_for(fake).complete(
        system="Answer from the passages.", prompt="Passages: ...\nQuestion: balance?"
    )
    assert result == Completion("Dial *483*1# [1].", input_tokens=123, output_tokens=9)
    [sent] = fake.requests
    assert "Question: balance?" in sent.raw and "Answer from the passages." in sent.raw
    assert MODELS[fake.name] in sent.raw or MODELS[fake.name] in sent.path


def test_the_model_and_token_limit_are_sent(fake: FakeLLMServer) -> None:
    provider_for(fake).complete(system="s", prompt="p", max_tokens=77)
    body = fake.requests[0].body
    assert "77" in json.dumps(body)


@pytest.mark.parametrize("status", [401, 429, 500])
def test_http_errors_are_llm_errors_and_not_retried(fake: FakeLLMServer, status: int) -> None:
    """Retries are off: a 429 or 500 costs one request, so a failing provider costs one wait."""
    fake.always(Fail(status, "nope"))
    with pytest.raises(LLMError) as raised:
        provider_for(fake).complete(system="s", prompt="p")
    assert not isinstance(raised.value, LLMTimeout)
    assert len(fake.requests) == 1


def test_a_wrong_key_is_refused_by_the_fake_as_by_the_provider(fake: FakeLLMServer) -> None:
    with pytest.raises(LLMError):
        provider_for(fake, api_key="sk-wrong").complete(system="s", prompt="p")
    assert fake.requests == []


def test_a_body_that_is_not_json_is_an_llm_error(fake: FakeLLMServer) -> None:
    fake.always(Malformed())
    with pytest.raises(LLMError):
        provider_for(fake).complete(system="s", prompt="p")


def test_an_empty_answer_is_an_error_that_keeps_the_token_count(fake: FakeLLMServer) -> None:
    fake.answer("", input_tokens=50, output_tokens=1)
    with pytest.raises(LLMError) as raised:
        provider_for(fake).complete(system="s", prompt="p")
    assert raised.value.input_tokens == 50


def test_a_slow_provider_times_out_at_the_client_timeout(fake: FakeLLMServer) -> None:
    """The fake sleeps 30 s; the SDK gives up at its 0.5 s timeout, once (no retry)."""
    fake.always(Sleep(30))
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        provider_for(fake, timeout_s=0.5).complete(system="s", prompt="p")
    # A generous bound: far below the fake's 30 s, so the timeout was honoured, not waited out.
    assert time.monotonic() - started < 10
    assert len(fake.requests) == 1


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(LLMError, match="unknown LLM provider"):
        create_provider("mystery", api_key="k", model="m", base_url=None)
