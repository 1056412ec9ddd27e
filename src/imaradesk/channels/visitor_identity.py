"""Who a web-chat or Rasa REST visitor is: a token we signed, never a string they chose.

Before, the ``sender`` a widget sent was the identity: anyone who guessed another visitor's
string read that conversation, asked for that person's data or opted them out. Now a visitor
asks us for a token (``POST /channels/webchat/<org>/visitors``) and sends it with every read
and write. The token is signed with the service's secret and names the organization and the
visitor's address, which the server chose (``web-`` and 24 random bytes); a token of one
organization is nothing to another.

A customer signed in on the organization's own site can keep their history across devices:
the organization's server signs the customer's id with the organization's identity secret
(``user_hash`` = hex HMAC-SHA256 of the id, as support widgets commonly do) and the widget
trades the pair for a token whose address is that id. Without the secret nobody can claim an
identified address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from imaradesk.channels.base import ChannelError
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.signing import ClockedSigner

_SALT = "imaradesk.visitor"
ANONYMOUS_PREFIX = "web-"
IDENTIFIED_PREFIX = "user:"
# The organization's own customer ids: what account systems use, nothing that could pass for
# an anonymous address or hide control characters in a log line.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+:-]{0,127}")


class VisitorRefused(ChannelError):
    """The request does not prove who the visitor is (401)."""


class IdentityRefused(ChannelError):
    """The organization's signature of a customer id is missing or wrong (403)."""


@dataclass(frozen=True)
class Visitor:
    org_id: int
    # The customer's address on the channel: what the contact and the conversation are keyed by.
    address: str

    @property
    def identified(self) -> bool:
        return self.address.startswith(IDENTIFIED_PREFIX)


def identity_signature(secret: str, user_id: str) -> str:
    """What the organization's server sends beside ``user_id`` (hex HMAC-SHA256)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


class VisitorTokens:
    """Issues and checks visitor tokens, dated by ``clock`` and valid ``max_age_seconds``."""

    def __init__(self, secret: str, *, max_age_seconds: int, clock: Clock) -> None:
        self.max_age_seconds = max_age_seconds
        self._serializer = URLSafeTimedSerializer(
            secret, salt=_SALT, signer=ClockedSigner, signer_kwargs={"clock": clock}
        )

    def new_visitor(self, org_id: int) -> tuple[str, Visitor]:
        """A token for a visitor nobody has seen: the server picks the address."""
        return self._issue(Visitor(org_id, ANONYMOUS_PREFIX + secrets.token_urlsafe(24)))

    def renew(self, visitor: Visitor) -> tuple[str, Visitor]:
        """A fresh token for a visitor whose token still holds (widgets renew on each visit)."""
        return self._issue(visitor)

    def identified(
        self, org_id: int, *, user_id: str, user_hash: str, identity_secret: str | None
    ) -> tuple[str, Visitor]:
        """A token for a customer the organization's server vouches for.

        Raises:
            IdentityRefused: the organization has no identity secret, or the hash is not its
                signature of ``user_id``.
        """
        if not _USER_ID.fullmatch(user_id):
            raise IdentityRefused(
                '"user_id" must be 1-128 letters, digits or _.@+:- (starting with a letter or '
                "digit)"
            )
        if not identity_secret:
            raise IdentityRefused("this organization does not sign its customers' identities")
        expected = identity_signature(identity_secret, user_id)
        if not hmac.compare_digest(expected, user_hash.strip().lower()):
            raise IdentityRefused('"user_hash" is not the organization\'s signature of "user_id"')
        return self._issue(Visitor(org_id, IDENTIFIED_PREFIX + user_id))

    def verify(self, token: str, *, org_id: int) -> Visitor:
        """The visitor a token names, if it is ours, unexpired and for this organization.

        Raises:
            VisitorRefused: anything else (forged, expired, another organization's).
        """
        try:
            claims = self._serializer.loads(token, max_age=self.max_age_seconds)
        except SignatureExpired as e:
            raise VisitorRefused("the visitor token has expired: ask for a new one") from e
        except BadSignature as e:
            raise VisitorRefused("the visitor token is not valid") from e
        if not isinstance(claims, dict) or claims.get("o") != org_id:
            # Signed by us, but for another organization: the same refusal as a forgery.
            raise VisitorRefused("the visitor token is not valid")
        address = claims.get("a")
        if not isinstance(address, str) or not address:
            raise VisitorRefused("the visitor token is not valid")
        return Visitor(org_id, address)

    def _issue(self, visitor: Visitor) -> tuple[str, Visitor]:
        token = self._serializer.dumps({"o": visitor.org_id, "a": visitor.address})
        return token, visitor
