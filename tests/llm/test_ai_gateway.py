"""External AI only where the organization allows it, and only redacted.

The providers are real SDK clients talking to a local fake server that speaks each provider's
protocol; what the fake receives is what would have left the machine.
"""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from imaradesk.channels.messages import ReplyKind
from imaradesk.llm.providers import AnthropicProvider, GeminiProvider, LLMError, OpenAIProvider
from tests.helpers import Chat, seed_org

GEMINI_PATH = "/v1/models/gemini-2.5-flash:generateContent"
FAQ = """id,question,answer
pin,How do I reset my PIN?,Dial *483*7#.
balance,How do I check my balance?,Dial *483*1#.
statement,How do I get a statement?,Open Statements in the app.
"""
# Unsure for the hashing embedder, yet close to the balance entry.
UNSURE = "Hi, my name is Wanjiru Kamau, my number 0712345678: where do I see my balance money?"


def gemini_reply(text: str) -> dict:
    return {
        "candidates": [
            {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP"}
        ]
    }


@pytest.fixture
def gemini(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request(GEMINI_PATH, method="POST").respond_with_json(gemini_reply("2"))
    return httpserver


def sent_texts(server: HTTPServer) -> str:
    return " ".join(request.get_data(as_text=True) for request, _ in server.log)


def services_with_llm(make_services, database, server: HTTPServer, **settings):
    return make_services(
        database,
        llm_provider="gemini",
        llm_api_key="test-key",
        llm_base_url=server.url_for("/").rstrip("/"),
        retrieval_min_similarity=0.95,
        **settings,
    )


def test_an_allowed_org_gets_help_from_the_llm_and_it_sees_no_personal_data(
    make_services, sqlite_database, gemini
) -> None:
    services = services_with_llm(make_services, sqlite_database, gemini)
    org = seed_org(services, "acme", faq_csv=FAQ)
    services.organizations.update(org.id, external_ai_allowed=True)
    chat = Chat(services, "acme")
    chat.send("hi", profile_name="Wanjiru Kamau")
    [reply] = chat.send(UNSURE)
    assert reply.kind is ReplyKind.ANSWER, reply.text
    assert reply.sources[0].external_id in {"pin", "balance", "statement"}
    assert len(gemini.log) == 1
    sent = sent_texts(gemini)
    for secret in ("Wanjiru", "Kamau", "0712345678", "712345678"):
        assert secret not in sent
    assert "[NAME_1]" in sent and "[PHONE_1]" in sent and "balance money" in sent
    # The call is recorded for the organization (this fake reports no token counts).
    [usage] = services.ai.usage.totals(org.id)
    assert (usage.provider, usage.model, usage.calls, usage.failures) == (
        "gemini",
        "gemini-2.5-flash",
        1,
        0,
    )


def test_no_external_ai_means_nothing_leaves(make_services, sqlite_database, gemini) -> None:
    services = services_with_llm(make_services, sqlite_database, gemini)
    seed_org(services, "acme", faq_csv=FAQ)  # external_ai_allowed is off by default
    chat = Chat(services, "acme")
    chat.send("hi")
    [reply] = chat.send(UNSURE)
    assert reply.kind is ReplyKind.CLARIFY
    assert len(gemini.log) == 0


def test_an_opted_out_contact_never_reaches_the_llm(make_services, sqlite_database, gemini) -> None:
    services = services_with_llm(make_services, sqlite_database, gemini)
    org = seed_org(services, "acme", faq_csv=FAQ)
    services.organizations.update(org.id, external_ai_allowed=True)
    chat = Chat(services, "acme")
    chat.send("STOP")
    assert chat.send(UNSURE) == []
    assert len(gemini.log) == 0


def test_a_failing_provider_falls_back_to_the_local_bot(
    make_services, sqlite_database, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(GEMINI_PATH, method="POST").respond_with_data(
        "upstream down", status=500
    )
    services = services_with_llm(make_services, sqlite_database, httpserver)
    org = seed_org(services, "acme", faq_csv=FAQ)
    services.organizations.update(org.id, external_ai_allowed=True)
    chat = Chat(services, "acme")
    chat.send("hi")
    [reply] = chat.send(UNSURE)
    assert reply.kind is ReplyKind.CLARIFY
    assert len(httpserver.log) >= 1


def test_an_answer_of_none_is_respected(
    make_services, sqlite_database, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(GEMINI_PATH, method="POST").respond_with_json(gemini_reply("0"))
    services = services_with_llm(make_services, sqlite_database, httpserver)
    org = seed_org(services, "acme", faq_csv=FAQ)
    services.organizations.update(org.id, external_ai_allowed=True)
    chat = Chat(services, "acme")
    chat.send("hi")
    assert chat.send(UNSURE)[0].kind is ReplyKind.CLARIFY


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_each_provider_speaks_its_protocol(httpserver: HTTPServer, provider: str) -> None:
    base = httpserver.url_for("/").rstrip("/")
    if provider == "openai":
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "3"},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
        client = OpenAIProvider(api_key="k", model="m", base_url=base + "/v1")
    elif provider == "anthropic":
        httpserver.expect_request("/v1/messages", method="POST").respond_with_json(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [{"type": "text", "text": "3"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )
        client = AnthropicProvider(api_key="k", model="m", base_url=base)
    else:
        httpserver.expect_request(GEMINI_PATH, method="POST").respond_with_json(gemini_reply("3"))
        client = GeminiProvider(api_key="k", model="gemini-2.5-flash", base_url=base)
    assert client.complete(system="pick", prompt="Customer: x").text == "3"
    body = json.loads(httpserver.log[0][0].get_data(as_text=True))
    assert "Customer: x" in json.dumps(body)


def test_provider_errors_are_llm_errors(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_data(
        "no", status=503
    )
    client = OpenAIProvider(api_key="k", model="m", base_url=httpserver.url_for("/v1"))
    with pytest.raises(LLMError):
        client.complete(system="s", prompt="p")
