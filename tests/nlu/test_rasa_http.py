"""RasaNLU against a loopback server speaking Rasa's /model/parse: a parse is read as Rasa sends
it, and every way the server can fail (slow, down, HTTP error, not JSON, wrong shape, too large)
is an NLUError, which the dialogue treats as "our retrieval decides"."""

from __future__ import annotations

import socket

import pytest

from imaradesk.nlu import NLUBackend, NLUReplyInvalid, NLUResult, NLUUnavailable
from imaradesk.nlu.rasa_http import RasaNLU, parse_reply
from tests.nlu.fake_rasa import FakeRasa, parse_body, serve


def test_a_parse_gives_the_intent_its_confidence_and_the_ranking() -> None:
    with serve(FakeRasa(intents={"what is my balance": ("check_balance", 0.91)})) as fake:
        nlu: NLUBackend = RasaNLU(fake.url, timeout=2.0)
        result = nlu.parse("what is my balance")
    assert result == NLUResult(
        "check_balance", 0.91, (("check_balance", 0.91), ("nlu_fallback", 0.09))
    )
    assert fake.received == [{"text": "what is my balance"}]
    assert fake.paths == ["/model/parse"]


def test_a_base_url_with_a_path_and_token_keeps_both() -> None:
    """Rasa servers started with --auth-token want ?token= on every call."""
    with serve(FakeRasa(intents={"hi": ("greet", 0.99)}, token="s3cret")) as fake:
        assert RasaNLU(f"{fake.url}/?token=s3cret").parse("hi").intent == "greet"
        with pytest.raises(NLUUnavailable, match="HTTP 401"):
            RasaNLU(fake.url).parse("hi")
    assert (
        RasaNLU("http://rasa.internal:5005/nlu/").url == "http://rasa.internal:5005/nlu/model/parse"
    )


def test_a_retrieval_intent_is_resolved_to_its_sub_intent_with_the_lower_confidence() -> None:
    body = parse_body("how much are the fees", "faq", 0.95)
    body["response_selector"] = {
        "all_retrieval_intents": ["faq"],
        "default": {
            "response": {
                "responses": [{"text": "Sending is cheap."}],
                "confidence": 0.8,
                "intent_response_key": "faq/ask_fees",
                "utter_action": "utter_faq/ask_fees",
            },
            "ranking": [],
        },
    }
    result = parse_reply(body)
    assert (result.intent, result.confidence) == ("faq/ask_fees", 0.8)


def test_no_intent_is_a_result_without_intent() -> None:
    assert parse_reply(parse_body("??", None, 0.0)).intent is None
    assert parse_reply({"text": "x", "intent": {}}).intent is None


def test_a_server_slower_than_the_timeout_is_unavailable() -> None:
    with serve(FakeRasa(mode="slow", delay=3.0)) as fake:
        with pytest.raises(NLUUnavailable, match="did not answer within 0.2 s"):
            RasaNLU(fake.url, timeout=0.2).parse("hello")


def test_a_reply_still_arriving_at_the_deadline_is_unavailable() -> None:
    """Each read is quick but the whole reply is not: the deadline covers the whole call."""
    with serve(FakeRasa(mode="drip", delay=3.0)) as fake:
        with pytest.raises(NLUUnavailable, match="did not answer"):
            RasaNLU(fake.url, timeout=0.3).parse("hello")


def test_a_server_that_is_down_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(NLUUnavailable, match="unreachable"):
        RasaNLU(f"http://127.0.0.1:{port}", timeout=1.0).parse("hello")


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("error", NLUUnavailable, "HTTP 500"),
        ("not_json", NLUReplyInvalid, "not JSON"),
        ("huge", NLUReplyInvalid, "larger than"),
        (["a", "list"], NLUReplyInvalid, "not a JSON object"),
        ({"intent": "greet"}, NLUReplyInvalid, "'intent' is not an object"),
        ({"intent": {"name": 3, "confidence": 0.5}}, NLUReplyInvalid, "not a string"),
        ({"intent": {"name": "greet", "confidence": "high"}}, NLUReplyInvalid, "not a number"),
        ({"intent": {"name": "greet", "confidence": 1.7}}, NLUReplyInvalid, "between 0 and 1"),
        (
            {"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": {"a": 1}},
            NLUReplyInvalid,
            "not a list",
        ),
        (
            {"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": [{"c": 1}]},
            NLUReplyInvalid,
            "has no name",
        ),
    ],
)
def test_broken_replies_are_nlu_errors(mode: object, error: type, message: str) -> None:
    with serve(FakeRasa(mode=mode)) as fake:
        with pytest.raises(error, match=message):
            RasaNLU(fake.url, timeout=2.0).parse("hello")


@pytest.mark.parametrize("url", ["", "rasa:5005", "ftp://rasa/", "file:///etc/passwd", "http://"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError):
        RasaNLU(url)
    with pytest.raises(ValueError):
        RasaNLU("http://127.0.0.1:5005", timeout=0)
