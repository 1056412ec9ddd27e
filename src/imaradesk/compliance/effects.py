"""Carrying out what a chat turn decided about a data-protection request.

The rules of a turn only name the effect (``policies.privacy.PrivacyEffectKind``); once the
turn is stored, the privacy desk opens, updates or completes the request, erases, corrects or
restricts, and says which conversation-state keys change. A confirmed erasure that fails is
recorded as blocked and raised, so that the reply that said "erased" can be corrected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from imaradesk.compliance.desk import PrivacyDesk
from imaradesk.policies.privacy import PrivacyEffect
from imaradesk.policies.privacy import PrivacyEffectKind as Effect
from imaradesk.storage.models import Organization, PrivacyRequestStatus

log = logging.getLogger(__name__)

# The conversation-state key of an erasure waiting for YES (mirrors bot.state.PENDING_ERASURE).
PENDING_ERASURE = "pending_erasure"


class ErasureNotDone(Exception):
    """A confirmed erasure failed after its reply was stored; a person will finish it."""


@dataclass(frozen=True)
class EffectResult:
    state: dict[str, str] = field(default_factory=dict)
    erased: bool = False


@dataclass(frozen=True)
class _Request:
    org: Organization
    contact_id: int
    effect: PrivacyEffect
    channel: str
    text: str


class PrivacyEffects:
    def __init__(self, desk: PrivacyDesk) -> None:
        self._desk = desk
        self._handlers: dict[Effect, Callable[[_Request], EffectResult]] = {
            Effect.REQUEST_ERASURE: self._request_erasure,
            Effect.ERASE: self._erase,
            Effect.ERASURE_BLOCKED: self._erasure_blocked,
            Effect.CANCEL: self._cancel,
            Effect.ACCESS: self._access,
            Effect.ACCESS_NOTHING: self._access,
            Effect.RECTIFY: self._rectify,
            Effect.RECTIFY_BY_HUMAN: self._rectify_by_human,
            Effect.RESTRICT: self._restrict,
            Effect.LIFT: self._restrict,
            Effect.REFUSE: self._refuse,
        }

    def apply(
        self,
        org: Organization,
        effect: PrivacyEffect | None,
        *,
        contact_id: int,
        channel: str,
        text: str,
        pending_erasure: int | None,
    ) -> EffectResult:
        """Carry out ``effect`` for the contact; a pending erasure lapses unless answered.

        Raises:
            ErasureNotDone: a confirmed erasure failed; the request is marked blocked.
        """
        lapsed: dict[str, str] = {}
        if pending_erasure is not None and (effect is None or effect.request_id != pending_erasure):
            # Anything but YES or NO to "Reply YES to erase" keeps the data.
            self._desk.set_status(
                org,
                pending_erasure,
                PrivacyRequestStatus.CANCELLED,
                actor="customer",
                outcome="not confirmed",
            )
            lapsed[PENDING_ERASURE] = ""
        if effect is None:
            return EffectResult(lapsed)
        result = self._handlers[effect.kind](_Request(org, contact_id, effect, channel, text))
        return EffectResult({**lapsed, **result.state}, result.erased)

    def _open(self, r: _Request, status: PrivacyRequestStatus, **kwargs: str | None) -> int:
        request = self._desk.open_request(
            r.org,
            contact_id=r.contact_id,
            right=r.effect.right,
            channel=r.channel,
            status=status,
            **kwargs,
        )
        assert request.id is not None
        return request.id

    def _request_id(self, r: _Request) -> int:
        if r.effect.request_id is None:
            raise ValueError(f"a {r.effect.kind} effect needs its request id")
        return r.effect.request_id

    def _request_erasure(self, r: _Request) -> EffectResult:
        request_id = self._open(r, PrivacyRequestStatus.AWAITING_CONFIRMATION)
        return EffectResult({PENDING_ERASURE: str(request_id)})

    def _erase(self, r: _Request) -> EffectResult:
        request_id = self._request_id(r)
        desk = self._desk
        desk.set_status(
            r.org, request_id, PrivacyRequestStatus.OPEN, actor="customer", outcome="confirmed"
        )
        try:
            desk.erase(r.org, r.contact_id, request_id=request_id)
        except Exception as e:  # the reply already says "erased": it must not stay untrue
            log.exception("erasure failed", extra={"org_id": r.org.id})
            desk.set_status(
                r.org,
                request_id,
                PrivacyRequestStatus.BLOCKED,
                actor="bot",
                outcome="erasure failed; passed to a person",
            )
            raise ErasureNotDone(request_id) from e
        return EffectResult(erased=True)

    def _erasure_blocked(self, r: _Request) -> EffectResult:
        self._desk.set_status(
            r.org,
            self._request_id(r),
            PrivacyRequestStatus.BLOCKED,
            actor="bot",
            outcome="legal hold; passed to a person",
        )
        return EffectResult({PENDING_ERASURE: ""})

    def _cancel(self, r: _Request) -> EffectResult:
        self._desk.set_status(
            r.org,
            self._request_id(r),
            PrivacyRequestStatus.CANCELLED,
            actor="customer",
            outcome="kept",
        )
        return EffectResult({PENDING_ERASURE: ""})

    def _access(self, r: _Request) -> EffectResult:
        sent = r.effect.kind is Effect.ACCESS
        outcome = "export link sent" if sent else "nothing held before"
        self._open(r, PrivacyRequestStatus.COMPLETED, outcome=outcome)
        return EffectResult()

    def _rectify(self, r: _Request) -> EffectResult:
        if r.effect.correction is None:
            raise ValueError("a rectify effect needs its correction")
        self._desk.rectify(r.org, r.contact_id, r.effect.correction, channel=r.channel)
        return EffectResult()

    def _rectify_by_human(self, r: _Request) -> EffectResult:
        self._open(r, PrivacyRequestStatus.OPEN, detail=r.text, outcome="passed to a person")
        return EffectResult()

    def _restrict(self, r: _Request) -> EffectResult:
        restricted = r.effect.kind is Effect.RESTRICT
        self._desk.set_restricted(r.org, r.contact_id, restricted, channel=r.channel)
        return EffectResult()

    def _refuse(self, r: _Request) -> EffectResult:
        self._open(r, PrivacyRequestStatus.REFUSED, outcome="about another person or number")
        return EffectResult()
