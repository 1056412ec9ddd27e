"""An organization's connection to Meta's WhatsApp Cloud API, as the CLI and the console set it.

The number and the account are ids (digits); the app secret, access token and verify token are
secrets, stored sealed and never shown again. Changing one secret leaves the others as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from imaradesk.storage.models import Organization

SECRET_FIELDS = ("meta_app_secret", "meta_access_token", "meta_verify_token")
_META_ID = re.compile(r"[0-9]{5,32}")


class MetaSettingsInvalid(ValueError):
    pass


def meta_changes(
    org: Organization,
    *,
    phone_number_id: str | None,
    waba_id: str | None,
    secrets: Mapping[str, str],
) -> dict[str, str]:
    """The organization's columns to set; blank or missing values keep what is stored.

    Raises:
        MetaSettingsInvalid: an id is not digits, a secret field is unknown, or the number
            would be connected without the three secrets.
    """
    changes: dict[str, str] = {}
    for column, value in (("meta_phone_number_id", phone_number_id), ("meta_waba_id", waba_id)):
        value = (value or "").strip()
        if not value:
            continue
        if not _META_ID.fullmatch(value):
            raise MetaSettingsInvalid(f"{column.removeprefix('meta_')} must be Meta's id, digits")
        changes[column] = value
    for column, value in secrets.items():
        if column not in SECRET_FIELDS:
            raise MetaSettingsInvalid(f"{column} is not a Meta secret")
        if value.strip():
            changes[column] = value.strip()
    number = changes.get("meta_phone_number_id") or org.meta_phone_number_id
    missing = [c for c in SECRET_FIELDS if not (changes.get(c) or getattr(org, c))]
    if number and missing:
        names = ", ".join(c.removeprefix("meta_").replace("_", " ") for c in missing)
        raise MetaSettingsInvalid(f"a connected number needs its {names} too")
    return changes


def disconnected() -> dict[str, None]:
    """The columns that forget the number, the account and every secret."""
    return dict.fromkeys(("meta_phone_number_id", "meta_waba_id", *SECRET_FIELDS))


def is_connected(org: Organization) -> bool:
    return bool(org.meta_phone_number_id and all(getattr(org, c) for c in SECRET_FIELDS))
