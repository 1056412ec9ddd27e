"""Data-protection requests in customers' own words (English, Swahili, Sheng), without a model.

The tables are what customers write; a message that is an ordinary question must not start a
privacy request (an erasure prompt to someone asking how to change their PIN would be absurd).
Cases marked xfail are behaviour that looks wrong for a customer, kept visible until fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imaradesk.policies.privacy import (
    DEFAULT_DUE_DAYS,
    Correction,
    PrivacyIntent,
    PrivacyRight,
    about_someone_else,
    due_at,
    is_no,
    is_yes,
    parse_correction,
    recognise,
)

# The sender's own number, as WhatsApp gives it (E.164).
OWN = "+254712345678"

ACCESS = PrivacyRight.ACCESS
RECTIFY = PrivacyRight.RECTIFICATION
RESTRICT = PrivacyRight.RESTRICTION
LIFT = PrivacyRight.LIFT_RESTRICTION
ERASE = PrivacyRight.ERASURE


def mine(right: PrivacyRight) -> PrivacyIntent:
    return PrivacyIntent(right, about_someone_else=False, account_only=False)


def others(right: PrivacyRight) -> PrivacyIntent:
    return PrivacyIntent(right, about_someone_else=True, account_only=False)


ACCOUNT_ONLY = PrivacyIntent(ERASE, about_someone_else=False, account_only=True)


def wrong(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


RECOGNITION = [
    # -- access / portability ----------------------------------------------------------------
    pytest.param("send me my data", mine(ACCESS), id="en-access-send-my-data"),
    pytest.param("I want my data", mine(ACCESS), id="en-access-want"),
    pytest.param("nataka data yangu yote", mine(ACCESS), id="sw-access-nataka"),
    pytest.param("naomba nakala ya data yangu", mine(ACCESS), id="sw-access-naomba-nakala"),
    pytest.param("nataka kufuta data yangu", mine(ERASE), id="sw-erasure-kufuta"),
    pytest.param("nataka pesa yangu", None, id="sw-none-wants-money"),
    pytest.param("nataka kufuta muamala", None, id="sw-none-cancel-transaction"),
    pytest.param(
        "Please send me all the personal data you hold about me",
        mine(ACCESS),
        id="en-access-all-personal-data",
    ),
    pytest.param(
        "what information do you guys have stored on me?", mine(ACCESS), id="en-access-what-info"
    ),
    pytest.param("Can I get a copy of my chat history?", mine(ACCESS), id="en-access-chat-history"),
    pytest.param("I want to download my data", mine(ACCESS), id="en-access-download"),
    pytest.param("Send my information to my email", mine(ACCESS), id="en-portability-to-my-email"),
    pytest.param("nitumie data yangu", mine(ACCESS), id="sw-access-nitumie-data"),
    pytest.param("Nitumieni taarifa zangu zote", mine(ACCESS), id="sw-access-taarifa-zote"),
    pytest.param("nipe nakala ya taarifa zangu", mine(ACCESS), id="sw-access-nakala"),
    pytest.param("mna data gani kunihusu", mine(ACCESS), id="sw-access-data-gani-kunihusu"),
    pytest.param("nataka kuona data yangu", mine(ACCESS), id="sheng-access-kuona-data"),
    pytest.param(
        "bro nitumie details zangu zote",
        mine(ACCESS),
        id="sheng-access-details-zangu",
        marks=wrong(
            "Sheng 'details zangu' / 'info zangu' is not personal data to the recogniser "
            "(only taarifa, data, maelezo... take a Swahili possessive), so the request "
            "goes to the FAQ"
        ),
    ),
    # -- rectification, with and without a value ---------------------------------------------
    pytest.param("My name is wrong, it's Wanjiru", mine(RECTIFY), id="en-rectify-name-value"),
    pytest.param(
        "change my email to wanjiru@example.com", mine(RECTIFY), id="en-rectify-email-value"
    ),
    pytest.param("I prefer Swahili", mine(RECTIFY), id="en-rectify-language"),
    pytest.param("my date of birth is wrong", mine(RECTIFY), id="en-rectify-dob-no-value"),
    pytest.param(
        "my id number is incorrect on your system", mine(RECTIFY), id="en-rectify-id-no-value"
    ),
    pytest.param(
        "Jina langu si sahihi, naitwa Kamau Njoroge", mine(RECTIFY), id="sw-rectify-name-value"
    ),
    pytest.param(
        "badilisha barua pepe yangu iwe mary@mail.co.ke",
        mine(RECTIFY),
        id="sw-rectify-email-value",
    ),
    pytest.param("napendelea Kiswahili", mine(RECTIFY), id="sw-rectify-language"),
    pytest.param("Tarehe ya kuzaliwa yangu si sahihi", mine(RECTIFY), id="sw-rectify-dob-no-value"),
    pytest.param("email yangu iko wrong", mine(RECTIFY), id="sheng-rectify-email-iko-wrong"),
    # -- restriction / objection -------------------------------------------------------------
    pytest.param("stop using my messages for your AI", mine(RESTRICT), id="en-restrict-ai"),
    pytest.param(
        "do not use my chats for training your models", mine(RESTRICT), id="en-restrict-training"
    ),
    pytest.param("I object to profiling of my data", mine(RESTRICT), id="en-object-profiling"),
    pytest.param("no more bots please", mine(RESTRICT), id="en-restrict-no-more-bots"),
    pytest.param("msitumie data yangu kwa AI", mine(RESTRICT), id="sw-restrict-msitumie"),
    pytest.param("napinga uchakataji wa taarifa zangu", mine(RESTRICT), id="sw-object-uchakataji"),
    pytest.param(
        "sitaki bot, acheni kuchakata taarifa zangu", mine(RESTRICT), id="sheng-restrict-sitaki-bot"
    ),
    pytest.param(
        "msiuse data yangu kwa AI",
        mine(RESTRICT),
        id="sheng-restrict-msiuse",
        marks=wrong(
            "Sheng 'msiuse' (don't use) is not a stop verb, though 'msitumie' is: the "
            "objection is not recognised and the bot keeps processing with AI"
        ),
    ),
    # -- lifting it ----------------------------------------------------------------------------
    pytest.param("you can use my data again", mine(LIFT), id="en-lift-use-again"),
    pytest.param(
        "ok you can start using AI on my messages now", mine(LIFT), id="en-lift-start-using-ai"
    ),
    pytest.param("Sawa, mnaweza kutumia data yangu tena", mine(LIFT), id="sw-lift-mnaweza-tena"),
    pytest.param("ondoa zuio la data yangu", mine(LIFT), id="sw-lift-ondoa-zuio"),
    pytest.param(
        "I withdraw my objection",
        mine(LIFT),
        id="en-lift-withdraw-objection",
        marks=wrong(
            "'withdraw my objection' is in the lift vocabulary, but lifting also needs AI or "
            "personal-data words, so the plain phrase is not recognised"
        ),
    ),
    # -- erasure -------------------------------------------------------------------------------
    pytest.param("delete everything you have about me", mine(ERASE), id="en-erase-everything"),
    pytest.param(
        "Please erase all my personal information", mine(ERASE), id="en-erase-personal-info"
    ),
    pytest.param("forget me", mine(ERASE), id="en-erase-forget-me"),
    pytest.param("right to be forgotten", mine(ERASE), id="en-erase-right-to-be-forgotten"),
    pytest.param("I no longer want you to keep my data", mine(ERASE), id="en-erase-no-longer-keep"),
    pytest.param("futa data yangu", mine(ERASE), id="sw-erase-futa-data"),
    pytest.param("mfute taarifa zangu zote", mine(ERASE), id="sw-erase-mfute-taarifa"),
    pytest.param("nisahau", mine(ERASE), id="sw-erase-nisahau"),
    pytest.param("Nataka data yangu ifutwe kabisa", mine(ERASE), id="sw-erase-ifutwe-kabisa"),
    pytest.param(
        "futa details zangu",
        mine(ERASE),
        id="sheng-erase-futa-details",
        marks=wrong(
            "Sheng 'futa details zangu' (delete my details) is not recognised: 'details' "
            "takes no Swahili possessive in the personal-data vocabulary"
        ),
    ),
    # -- "delete my account": erasure, but maybe only closing the account --------------------
    pytest.param("delete my account", ACCOUNT_ONLY, id="en-account-only-delete"),
    pytest.param("I want my account deleted", ACCOUNT_ONLY, id="en-account-only-deleted"),
    pytest.param("futa akaunti yangu", ACCOUNT_ONLY, id="sw-account-only-futa-akaunti"),
    pytest.param(
        "delete my account and all my data", mine(ERASE), id="en-account-and-data-not-only"
    ),
    # -- about someone else --------------------------------------------------------------------
    pytest.param("send me my husband's data", others(ACCESS), id="en-other-husbands-data"),
    pytest.param("send me the messages of my wife", others(ACCESS), id="en-other-messages-of-wife"),
    pytest.param("delete my wife's account", others(ERASE), id="en-other-wifes-account"),
    pytest.param("delete the data of 0722000111", others(ERASE), id="en-other-number-local-form"),
    pytest.param(
        "send the data of 0733 123 456 to me", others(ACCESS), id="en-other-number-spaced"
    ),
    pytest.param(
        "nitumie data zangu, namba yangu ni 0799000111",
        others(ACCESS),
        id="sw-other-number-claimed-as-mine",
    ),
    pytest.param(
        "nitumie data ya mume wangu",
        others(ACCESS),
        id="sw-other-mume-wangu",
        marks=wrong(
            "Swahili 'data ya mume wangu' (my husband's data) is not recognised as a request, "
            "so it is not refused with the reason as its English twin is"
        ),
    ),
    pytest.param(
        "futa data ya 0722000111",
        others(ERASE),
        id="sw-other-number-futa",
        marks=wrong(
            "Swahili 'futa data ya <number>' is not recognised, though 'delete the data of "
            "<number>' is refused as someone else's"
        ),
    ),
    # -- the sender's own number, in either form, is not someone else -------------------------
    pytest.param("send me the data of +254712345678", mine(ACCESS), id="own-number-e164"),
    pytest.param("send me the data of 0712345678", mine(ACCESS), id="own-number-local-07"),
    pytest.param(
        "delete my data, my number is +254 712 345 678", mine(ERASE), id="own-number-spaced"
    ),
    # -- negatives: ordinary questions, not requests -------------------------------------------
    pytest.param("How do I change my PIN?", None, id="neg-en-change-pin"),
    pytest.param("change my PIN please", None, id="neg-en-change-pin-please"),
    pytest.param("nimesahau PIN yangu", None, id="neg-sw-forgot-pin"),
    pytest.param("PIN yangu imefungwa, nisaidie", None, id="neg-sw-pin-locked"),
    pytest.param("delete the last transaction?", None, id="neg-en-delete-transaction"),
    pytest.param(
        "I want to delete a transaction from my statement", None, id="neg-en-delete-from-statement"
    ),
    pytest.param("futa muamala wa jana", None, id="neg-sw-futa-muamala"),
    pytest.param("How do I buy data bundles?", None, id="neg-en-data-bundles"),
    pytest.param("my data bundles are finished", None, id="neg-en-my-data-bundles"),
    pytest.param("send me my statement", None, id="neg-en-send-statement"),
    pytest.param("nitumie statement yangu ya mwezi", None, id="neg-sheng-statement"),
    pytest.param("Money has been removed from my account", None, id="neg-en-money-removed"),
    pytest.param("How do I delete the app?", None, id="neg-en-delete-app"),
    pytest.param("Please don't stop my account", None, id="neg-en-dont-stop-account"),
    pytest.param("Remove my name from the loan list", None, id="neg-en-loan-list"),
    pytest.param("my balance is wrong", None, id="neg-en-balance-wrong"),
    pytest.param("stop sending me promotions", None, id="neg-en-promotions"),
    pytest.param(
        "Nimetuma pesa kwa namba mbaya, naomba mrudishe", None, id="neg-sw-wrong-number-send"
    ),
    pytest.param("stop", None, id="neg-stop-is-consent-not-privacy"),
    pytest.param(
        "Why did you delete my data?",
        None,
        id="neg-en-why-deleted-data",
        marks=wrong(
            "a complaint that data was deleted reads as an erasure request: the customer is "
            "asked to reply YES to erase everything"
        ),
    ),
    pytest.param(
        "has my account been deleted?",
        None,
        id="neg-en-has-account-been-deleted",
        marks=wrong(
            "a question whether the account was deleted reads as 'delete my account' "
            "(account_only erasure)"
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), RECOGNITION)
def test_recognise(text: str, expected: PrivacyIntent | None) -> None:
    """Each message is the request (right, about someone else, account only) or none at all."""
    assert recognise(text, own_number=OWN) == expected


@pytest.mark.parametrize(
    ("text", "own_number", "expected"),
    [
        pytest.param("delete the data of 0712345678", "+254712345678", False, id="local-vs-e164"),
        pytest.param("delete the data of +254712345678", "0712345678", False, id="e164-vs-local"),
        pytest.param("delete the data of 254712345678", "+254712345678", False, id="no-plus"),
        pytest.param("delete the data of 0712345678", "+254799000111", True, id="different"),
        pytest.param("delete the data of 0712345678", None, True, id="sender-unknown"),
        pytest.param("futa data yangu", "+254712345678", False, id="no-number-at-all"),
        pytest.param("data ya mtu mwingine", "+254712345678", True, id="sw-mtu-mwingine"),
        pytest.param("account ya namba nyingine", None, True, id="sw-namba-nyingine"),
        pytest.param("another customer's account", None, True, id="en-another-customer"),
    ],
)
def test_about_someone_else_compares_numbers_by_their_last_nine_digits(
    text: str, own_number: str | None, expected: bool
) -> None:
    """0712..., 254712... and +254712... are one number; any other number, or person, is not."""
    assert about_someone_else(text, own_number=own_number) is expected


def test_recognise_ignores_empty_and_overlong_messages() -> None:
    """Nothing to read, or a pasted essay (over 400 characters), is not a request."""
    assert recognise("   ", own_number=OWN) is None
    assert recognise("?!", own_number=OWN) is None
    assert recognise("delete my data " + "blah " * 100, own_number=OWN) is None


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "YES",
        "Yes!",
        "y",
        "yes please",
        "yes delete",
        "confirm",
        "I confirm",
        "yeah",
        "yep",
        "ndiyo",
        "Ndiyo.",
        "ndio",
        "naam",
    ],
)
def test_yes_words_in_both_languages(text: str) -> None:
    """These confirm an erasure (and are not also a no)."""
    assert is_yes(text) and not is_no(text)


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "No",
        "n",
        "cancel",
        "Cancel.",
        "no thanks",
        "don't",
        "dont",
        "hapana",
        "HAPANA!",
        "la",
        "sitaki",
    ],
)
def test_no_words_in_both_languages(text: str) -> None:
    """These keep the data (and are not also a yes)."""
    assert is_no(text) and not is_yes(text)


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "sawa", "ok", "yes but first tell me what you delete", "no idea", "maybe"],
)
def test_neither_yes_nor_no(text: str) -> None:
    """STOP opts out rather than answering; "sawa"/"ok" and sentences do not confirm erasure."""
    assert not is_yes(text) and not is_no(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "My name is wrong, it's Wanjiru", Correction("display_name", "Wanjiru"), id="en-its"
        ),
        pytest.param(
            "my name is misspelt, it should be Achieng Otieno",
            Correction("display_name", "Achieng Otieno"),
            id="en-should-be",
        ),
        pytest.param(
            "My correct name is Njeri.", Correction("display_name", "Njeri"), id="en-correct-name"
        ),
        pytest.param(
            "Jina langu si sahihi, naitwa Kamau Njoroge",
            Correction("display_name", "Kamau Njoroge"),
            id="sw-naitwa",
        ),
        pytest.param(
            "jina sahihi ni Wanjiru Mwangi",
            Correction("display_name", "Wanjiru Mwangi"),
            id="sw-jina-sahihi-ni",
        ),
        pytest.param(
            "change my email to wanjiru@example.com",
            Correction("email", "wanjiru@example.com"),
            id="en-email",
        ),
        pytest.param(
            "my e-mail is now jane.doe+mpesa@mail.co.ke",
            Correction("email", "jane.doe+mpesa@mail.co.ke"),
            id="en-e-mail-plus-address",
        ),
        pytest.param(
            "badilisha barua pepe yangu iwe mary@mail.co.ke",
            Correction("email", "mary@mail.co.ke"),
            id="sw-barua-pepe",
        ),
        pytest.param(
            "I prefer Swahili", Correction("preferred_language", "sw"), id="en-prefer-swahili"
        ),
        pytest.param(
            "change my preferred language to English",
            Correction("preferred_language", "en"),
            id="en-language-english",
        ),
        pytest.param(
            "napendelea Kiswahili", Correction("preferred_language", "sw"), id="sw-napendelea"
        ),
        pytest.param(
            "nataka lugha ya Kiingereza",
            Correction("preferred_language", "en"),
            id="sw-lugha-kiingereza",
        ),
        # Without a value there is nothing to apply: a person makes the correction.
        pytest.param("my date of birth is wrong", None, id="dob-no-value"),
        pytest.param("The name on my profile is wrong", None, id="name-no-value"),
        pytest.param("my email is wrong", None, id="email-no-value"),
        # An address without the word email is not an email correction.
        pytest.param("send the report to boss@corp.com", None, id="address-without-email-word"),
        # A surname alone must not replace the whole display name.
        pytest.param("my surname is spelt wrong, it is Mwangi", None, id="surname-only"),
        # More than three words is not a name we dare to apply.
        pytest.param("my name is Kamau Njoroge Mwangi Otieno", None, id="four-word-name"),
        pytest.param(
            "change my name to Otieno Kamau",
            Correction("display_name", "Otieno Kamau"),
            id="en-change-name-to",
            marks=wrong(
                "'change my name to X' gives the value but only it's/should be/ni/naitwa "
                "lead a name, so it goes to a person while 'change my email to X' is applied"
            ),
        ),
    ],
)
def test_parse_correction(text: str, expected: Correction | None) -> None:
    """The field (name, email, preferred language) and value a correction names, if any."""
    assert parse_correction(text) == expected


RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("right", list(PrivacyRight), ids=lambda r: r.value)
def test_every_right_is_due_in_30_days_by_default(right: PrivacyRight) -> None:
    """Our policy promises 30 days for every right when the organization set nothing."""
    assert DEFAULT_DUE_DAYS[right.value] == 30
    assert due_at(right, RECEIVED, None) == RECEIVED + timedelta(days=30)
    assert due_at(right, RECEIVED, {}) == RECEIVED + timedelta(days=30)


def test_an_organizations_shorter_deadline_applies_to_its_right_only() -> None:
    """privacy_due_days shortens the rights it names (Kenya: 7 days); the others keep 30."""
    overrides = {"access": 7, "rectification": 7, "erasure": 7}
    assert due_at(ACCESS, RECEIVED, overrides) == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    assert due_at(ERASE, RECEIVED, overrides) == RECEIVED + timedelta(days=7)
    assert due_at(RECTIFY, RECEIVED, overrides) == RECEIVED + timedelta(days=7)
    assert due_at(RESTRICT, RECEIVED, overrides) == RECEIVED + timedelta(days=30)
    assert due_at(LIFT, RECEIVED, overrides) == RECEIVED + timedelta(days=30)
