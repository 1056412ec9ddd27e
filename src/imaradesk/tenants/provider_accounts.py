"""Organizations' provider accounts, as the plain values channel adapters sign in with.

The organization's columns are named for the provider they configure; each provider's adapter
gets one function here, given to the registry with it.
"""

from __future__ import annotations

from imaradesk.channels.base import ProviderAccount
from imaradesk.storage.models import Organization


def twilio_account(org: Organization) -> ProviderAccount | None:
    """The organization's Twilio account and sender, or None until all three are set."""
    if not (org.twilio_account_sid and org.twilio_auth_token and org.whatsapp_sender):
        return None
    return ProviderAccount(
        account_id=org.twilio_account_sid,
        secret=org.twilio_auth_token,
        sender=org.whatsapp_sender,
    )


def meta_account(org: Organization) -> ProviderAccount | None:
    """The organization's WhatsApp Cloud API number and token, or None until both are set."""
    if not (org.meta_phone_number_id and org.meta_access_token):
        return None
    return ProviderAccount(
        account_id=org.meta_phone_number_id,
        secret=org.meta_access_token,
        sender=org.meta_phone_number_id,
    )
