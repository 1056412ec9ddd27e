"""Every channel's parser and every document parser, fed arbitrary and mutated input by
hypothesis: each either returns what it promises or refuses with its own error (which the web
layer turns into a 400 and the ingestion job into a stated failure); nothing else escapes,
so no malformed request can become a 500 and lose the message behind it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imaradesk.channels.base import MalformedRequest
from imaradesk.channels.messages import InboundMessage
from imaradesk.channels.meta import MetaCloudChannel
from imaradesk.channels.rasa_rest import MessageTooLong, RasaRestChannel
from imaradesk.channels.twilio import TwilioChannel, parse_status
from imaradesk.channels.webchat import WebChatChannel
from imaradesk.knowledge_index.documents import SUPPORTED_EXTENSIONS, ParsedDocument, parse_bytes
from imaradesk.knowledge_index.errors import ImportFormatError

NOW = datetime(2026, 12, 3, tzinfo=UTC)
FIXTURES = Path(__file__).parent.parent / "fixtures" / "meta"
CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
META_KEYS = st.sampled_from(
    ["object", "entry", "changes", "value", "field", "messages", "statuses", "contacts", "id",
     "from", "from_user_id", "type", "text", "body", "interactive", "button_reply", "metadata",
     "phone_number_id", "system", "wa_id", "user_id", "reaction", "message_id", "emoji"]
)  # fmt: skip


def _only_ours(call, allowed: tuple[type[Exception], ...] = (MalformedRequest,)) -> object:
    try:
        return call()
    except allowed:
        return None


def _mutated(value: object, path: list[str | int], replacement: object) -> object:
    """``value`` with the part at ``path`` (as far as it leads) replaced."""
    if not path:
        return replacement
    key, rest = path[0], path[1:]
    if isinstance(value, dict) and value:
        chosen = list(value)[hash(key) % len(value)]
        return {**value, chosen: _mutated(value[chosen], rest, replacement)}
    if isinstance(value, list) and value:
        index = hash(key) % len(value)
        return [*value[:index], _mutated(value[index], rest, replacement), *value[index + 1 :]]
    return replacement


meta_fixtures = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]


@CASES
@given(
    st.sampled_from(meta_fixtures),
    st.lists(st.one_of(st.integers(0, 9), META_KEYS), max_size=6),
    json_values,
)
def test_meta_notifications_parse_or_are_refused(fixture, path, replacement) -> None:
    payload = _mutated(fixture, path, replacement)
    channel = MetaCloudChannel()
    messages = _only_ours(lambda: channel.parse(payload, org_slug="acme", received_at=NOW))
    assert messages is None or all(isinstance(m, InboundMessage) for m in messages)
    _only_ours(lambda: channel.parse_statuses(payload))
    _only_ours(lambda: channel.parse_events(payload, phone_number_id="106540352242922"))


@CASES
@given(json_values)
def test_arbitrary_json_is_never_a_meta_crash(payload) -> None:
    channel = MetaCloudChannel()
    _only_ours(lambda: channel.parse(payload, org_slug="acme", received_at=NOW))
    _only_ours(lambda: channel.parse_statuses(payload))
    _only_ours(lambda: channel.parse_events(payload, phone_number_id="1"))


twilio_keys = st.sampled_from(
    ["MessageSid", "SmsMessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
     "MediaContentType0", "ProfileName", "ButtonPayload", "AccountSid", "MessageStatus",
     "ErrorCode"]
)  # fmt: skip


@CASES
@given(st.dictionaries(twilio_keys, st.text(max_size=60), max_size=10))
def test_twilio_forms_parse_or_are_refused(form) -> None:
    messages = _only_ours(lambda: TwilioChannel().parse(form, org_slug="acme", received_at=NOW))
    assert messages is None or all(isinstance(m, InboundMessage) for m in messages)
    _only_ours(lambda: parse_status(form, {"m": form.get("Body", "")}))


@CASES
@given(json_values)
def test_web_chat_and_rasa_bodies_parse_or_are_refused(payload) -> None:
    for channel in (WebChatChannel(), RasaRestChannel()):
        _only_ours(
            lambda channel=channel: channel.parse(payload, org_slug="acme", received_at=NOW),
            (MalformedRequest, MessageTooLong),
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SUPPORTED_EXTENSIONS), st.binary(max_size=3000))
def test_any_bytes_under_any_supported_name_parse_or_are_refused(extension, data) -> None:
    parsed = _only_ours(lambda: parse_bytes(f"faq{extension}", data), (ImportFormatError,))
    assert parsed is None or isinstance(parsed, ParsedDocument)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([".docx", ".pdf"]), st.binary(min_size=1, max_size=64), st.integers(0, 4000))
def test_damaged_word_and_pdf_files_are_refused_not_crashed(extension, junk, at) -> None:
    """A real file's bytes with a stretch overwritten: a damaged document, not random noise."""
    sample = _real_document(extension)
    at = at % max(1, len(sample))
    damaged = sample[:at] + junk + sample[at + len(junk) :]
    parsed = _only_ours(lambda: parse_bytes(f"handbook{extension}", damaged), (ImportFormatError,))
    assert parsed is None or isinstance(parsed, ParsedDocument)


_SAMPLES: dict[str, bytes] = {}


def _real_document(extension: str) -> bytes:
    if extension not in _SAMPLES:
        import io

        if extension == ".docx":
            import docx

            document = docx.Document()
            document.add_heading("Akaunti", level=1)
            document.add_paragraph("Ninawezaje kufungua akaunti? Tembelea wakala yeyote.")
            buffer = io.BytesIO()
            document.save(buffer)
        else:
            from pypdf import PdfWriter

            writer = PdfWriter()
            writer.add_blank_page(width=200, height=200)
            buffer = io.BytesIO()
            writer.write(buffer)
        _SAMPLES[extension] = buffer.getvalue()
    return _SAMPLES[extension]
