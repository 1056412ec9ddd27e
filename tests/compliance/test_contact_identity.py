"""One contact per person when a channel's identifiers for them meet or change, on SQLite and
PostgreSQL: the merge moves every row that names a contact and keeps the stricter protection."""

from __future__ import annotations

from sqlmodel import select

from imaradesk.channels.messages import IdentityChange, IdentityLink
from imaradesk.storage.db import Database
from imaradesk.storage.models import ConsentRecord, Contact, Conversation, Handoff, Message
from tests.helpers import Chat, seed_org

CHANNEL = "whatsapp_cloud"
BSUID, PHONE = "KE.1502576394655843", "254722000111"


def rows(database: Database, model: type) -> list:
    with database.read() as session:
        return list(session.exec(select(model)).all())


def test_a_merge_moves_every_row_and_keeps_an_opt_out(make_services, database: Database) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    by_phone = Chat(services, "acme", sender=PHONE, channel=CHANNEL)
    by_bsuid = Chat(services, "acme", sender=BSUID, channel=CHANNEL)
    by_phone.send("How do I check my balance?")
    by_phone.send("nataka mhudumu")  # a handoff under the phone
    by_bsuid.send("Habari")
    by_bsuid.send("STOP")  # an opt-out under the BSUID
    assert len(rows(database, Contact)) == 2

    outcome = services.identities.apply(org, IdentityLink(CHANNEL, address=BSUID, alias=PHONE))

    [contact] = rows(database, Contact)
    assert outcome.merged_contact_id is not None and outcome.contact_id == contact.id
    assert (contact.address, contact.alias, contact.opted_out) == (BSUID, PHONE, True)
    for model in (Message, Conversation, ConsentRecord, Handoff):
        assert {r.contact_id for r in rows(database, model)} == {contact.id}, model
    assert (
        services.identities.apply(org, IdentityLink(CHANNEL, address=BSUID, alias=PHONE)).contact_id
        is None
    ), "linked already: nothing written"


def test_a_change_to_an_unknown_identifier_of_nobody_does_nothing(
    make_services, database: Database
) -> None:
    services = make_services(database)
    org = seed_org(services, "acme")
    Chat(services, "acme", sender=PHONE, channel=CHANNEL).send("hello")
    outcome = services.identities.apply(org, IdentityChange(CHANNEL, "254700000000", "2547111"))
    assert outcome.contact_id is None
    [contact] = rows(database, Contact)
    assert contact.address == PHONE, "another customer's record is untouched"


def test_a_number_given_to_another_user_opens_nothing_of_its_past_owner(
    make_services, database: Database
) -> None:
    """Meta does not always say that a number changed hands: a new user id arriving with a
    phone that is another user id's alias is another person. The phone leaves the old contact
    and the newcomer sees none of its history."""
    services = make_services(database)
    org = seed_org(services, "acme")
    first = Chat(services, "acme", sender=BSUID, channel=CHANNEL)
    first.send("Habari", sender_alias=PHONE)
    newcomer_id = "KE.7702576394655843"
    outcome = services.identities.apply(
        org, IdentityLink(CHANNEL, address=newcomer_id, alias=PHONE)
    )
    assert outcome.merged_contact_id is None
    Chat(services, "acme", sender=newcomer_id, channel=CHANNEL).send("Hello", sender_alias=PHONE)
    old, new = sorted(rows(database, Contact), key=lambda c: c.id)
    assert (old.address, old.alias) == (BSUID, None), "the phone left its past owner"
    assert (new.address, new.alias) == (newcomer_id, PHONE)
    with database.read() as session:
        mine = session.exec(select(Message).where(Message.contact_id == new.id)).all()
    assert mine and all(m.body != "Habari" for m in mine)
