"""The PII redactor on realistic Kenyan messages in English, Swahili and Sheng."""

from __future__ import annotations

import pytest

from imaradesk.pii.redactor import Redactor

CASES = [
    # (message, values that must disappear, values that must stay)
    (
        "Hi, my name is Wanjiru Kamau and my number is 0712 345 678",
        ["Wanjiru", "Kamau", "0712 345 678"],
        ["Hi"],
    ),
    (
        "Naitwa Otieno, nambari yangu ni +254733123456, email otieno.j@gmail.com",
        ["Otieno", "+254733123456", "otieno.j@gmail.com"],
        ["nambari yangu"],
    ),
    (
        "I sent 2,000 to the wrong number. MPESA code QGH7K2LM9P confirmed",
        ["QGH7K2LM9P"],
        ["2,000"],
    ),
    ("transaction code sbk1xyz23a imekataa", ["sbk1xyz23a"], ["imekataa"]),
    ("My ID number is 23456789 and KRA PIN A004416331M", ["23456789", "A004416331M"], ["KRA PIN"]),
    ("kitambulisho changu ni 12345678, tafadhali nisaidie", ["12345678"], ["tafadhali"]),
    ("Niaje, nimetuma doh kwa namba mbaya 0722000111 msee", ["0722000111"], ["nimetuma doh"]),
    ("jina langu ni achieng, nimepoteza simu", ["achieng"], ["nimepoteza simu"]),
    ("call me on 254712345678 asap", ["254712345678"], ["asap"]),
]


@pytest.mark.parametrize(("message", "gone", "kept"), CASES)
def test_personal_data_is_replaced_and_the_rest_kept(
    message: str, gone: list[str], kept: list[str]
) -> None:
    redaction = Redactor().redact(message)
    for value in gone:
        assert value not in redaction.text, redaction.text
    for value in kept:
        assert value in redaction.text
    assert redaction.restore(redaction.text) == message


@pytest.mark.parametrize(
    "message",
    [
        "I paid 12345678 shillings last week",  # an amount is not an ID without the word ID
        "this is urgent!!! my money is lost",
        "How much does it cost to send 5000?",
        "mimi ni mteja wenu wa muda mrefu",
        "Habari, nataka kujua salio langu",
    ],
)
def test_ordinary_text_is_left_alone(message: str) -> None:
    assert Redactor().redact(message).text == message


def test_known_names_are_found_anywhere_and_repeats_share_a_placeholder() -> None:
    redaction = Redactor().redact(
        "Please ask Wanjiru to call. wanjiru knows 0712345678 and 0712345678",
        names=["Wanjiru Kamau"],
    )
    assert redaction.text == "Please ask [NAME_1] to call. [NAME_1] knows [PHONE_1] and [PHONE_1]"


def test_restore_puts_values_back_into_a_reply() -> None:
    redaction = Redactor().redact("My name is Achieng and my email is a@b.co")
    reply = "Thanks [NAME_1], we will write to [EMAIL_1]."
    assert redaction.restore(reply) == "Thanks Achieng, we will write to a@b.co."
