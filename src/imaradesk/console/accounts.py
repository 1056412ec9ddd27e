"""Console accounts: creation, invitations, sign-up, email verification, sign-in with lockout,
password reset. Passwords are hashed with bcrypt at cost 12."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, Unpack

import bcrypt
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from imaradesk.console.mailer import Mailer, MailQueue
from imaradesk.runtime.clock import Clock
from imaradesk.runtime.signing import ClockedSigner
from imaradesk.storage.account_repository import Accounts
from imaradesk.storage.db import Database
from imaradesk.storage.models import AgentAccount, AgentRole, Organization
from imaradesk.storage.organization_repository import OrganizationSettings
from imaradesk.storage.setup_repository import DeskConfig

BCRYPT_COST = 12
# Guessing from one address is stopped by the sign-in rate limit (web.limits: 5 failures per
# address and email); this lock is the backstop against guessing from many addresses at once,
# high enough that nobody can lock a colleague out with a few tries.
MAX_FAILED_LOGINS = 50
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores the rest: refuse rather than truncate silently
VERIFY_TTL = 3 * 24 * 3600
RESET_TTL = 3600
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A fixed hash to check against when the email is unknown, so both cases take as long.
_DUMMY_HASH = bcrypt.hashpw(b"not a real password", bcrypt.gensalt(BCRYPT_COST))


class Organizations(Protocol):
    """What sign-up needs of the organizations (``tenants.OrganizationService``)."""

    def get(self, org_id: int) -> Organization | None: ...

    def by_slug(self, slug: str) -> Organization | None: ...

    def create(self, slug: str, *, name: str) -> Organization: ...

    def update(self, org_id: int, **changes: Unpack[OrganizationSettings]) -> Organization: ...


class AccountError(Exception):
    pass


class LoginFailed(AccountError):
    pass


class LoginLocked(AccountError):
    pass


class EmailNotVerified(AccountError):
    pass


class TokenInvalid(AccountError):
    pass


def hash_password(password: str) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AccountError(f"the password may not be longer than {MAX_PASSWORD_BYTES} bytes")


@dataclass(frozen=True)
class SignupResult:
    org: Organization
    account: AgentAccount


class AccountService:
    def __init__(
        self,
        *,
        database: Database,
        organizations: Organizations,
        mailer: Mailer,
        clock: Clock,
        secret: str,
        public_base_url: str,
    ) -> None:
        self._db = database
        self._orgs = organizations
        self._mailer = mailer
        self._mail_queue = MailQueue(mailer)
        self._clock = clock
        self._secret = secret
        self._base = public_base_url.rstrip("/")

    # -- accounts ----------------------------------------------------------------------------

    def create(
        self,
        org_id: int,
        *,
        email: str,
        name: str,
        role: str,
        team: str | None = None,
        languages: list[str] | None = None,
        password: str | None = None,
        verified: bool = False,
    ) -> AgentAccount:
        email = normalise_email(email)
        if role not in {r.value for r in AgentRole}:
            raise AccountError(f"role must be one of {', '.join(r.value for r in AgentRole)}")
        now = self._clock.now()
        # Hashed before the transaction: bcrypt's quarter second must not hold the write lock.
        password_hash = hash_password(password) if password else None
        with self._db.write() as session:
            accounts = Accounts(session)
            if accounts.by_email(email) is not None:
                raise AccountError(f"an account for {email} already exists")
            return accounts.add(
                org_id=org_id,
                email=email,
                name=name.strip() or email,
                password_hash=password_hash,
                role=role,
                team_id=DeskConfig(session, org_id).team_id(team) if team else None,
                languages=languages or ["en"],
                verified_at=now if verified else None,
                now=now,
            )

    def invite(
        self,
        org_id: int,
        *,
        email: str,
        name: str,
        role: str,
        team: str | None = None,
        languages: list[str] | None = None,
    ) -> AgentAccount:
        """Create an account without a password and email a link to choose one."""
        account = self.create(
            org_id, email=email, name=name, role=role, team=team, languages=languages
        )
        assert account.id is not None
        link = f"{self._base}/console/reset/{self.reset_token(account)}"
        org = self._orgs.get(org_id)
        self._mailer.send(
            to=account.email,
            subject=f"You're invited to {org.name if org else 'ImaraDesk'} on ImaraDesk",
            body=(
                f"Hello {account.name},\n\nChoose your password to join the team:\n{link}\n\n"
                "The link works for an hour."
            ),
        )
        return account

    def members(self, org_id: int) -> list[tuple[AgentAccount, str | None]]:
        """The organization's accounts with their team names."""
        with self._db.read() as session:
            teams = DeskConfig(session, org_id).team_names()
            accounts = Accounts(session).of_organization(org_id)
            return [(a, teams.get(a.team_id) if a.team_id else None) for a in accounts]

    def get(self, account_id: int) -> AgentAccount | None:
        with self._db.read() as session:
            return Accounts(session).get(account_id)

    # -- sign-in -----------------------------------------------------------------------------

    def authenticate(self, email: str, password: str) -> AgentAccount:
        """The account for these credentials.

        Raises:
            LoginLocked: too many failures recently; says until when.
            LoginFailed: unknown email or wrong password (the same message for both).
            EmailNotVerified: right password, email not yet verified.
        """
        email = normalise_email(email)
        now = self._clock.now()
        with self._db.read() as session:
            account = Accounts(session).by_email(email)
        # bcrypt takes a quarter of a second: never inside a transaction (on SQLite it would
        # hold the one write lock every webhook needs).
        if account is None or account.password_hash is None or account.disabled_at is not None:
            bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], _DUMMY_HASH)
            raise LoginFailed("wrong email or password")
        # The password first, whatever the lock: every answer costs one bcrypt, and only
        # someone who knows the password learns that the account exists and is locked.
        if not bcrypt.checkpw(
            password.encode()[:MAX_PASSWORD_BYTES], account.password_hash.encode()
        ):
            self._count_failure(account.id, now)  # type: ignore[arg-type]
            raise LoginFailed("wrong email or password")
        if account.locked_until is not None and account.locked_until > now:
            raise LoginLocked(
                f"too many failed attempts: try again after {account.locked_until:%H:%M} UTC"
            )
        if account.email_verified_at is None:
            raise EmailNotVerified("please verify your email address first: we sent you a link")
        assert account.id is not None
        with self._db.write() as session:
            Accounts(session).clear_failed_logins(account.id)
        return account

    def _count_failure(self, account_id: int, now: datetime) -> None:
        """Count a failure atomically (parallel guesses must all count) and lock at the limit."""
        with self._db.write() as session:
            Accounts(session).count_failed_login(
                account_id, limit=MAX_FAILED_LOGINS, lock_until=now + LOCKOUT
            )

    def disable(self, org_id: int, email: str) -> AgentAccount:
        """Take an account's access away: it cannot sign in, and its sessions end at once."""
        email = normalise_email(email)
        with self._db.write() as session:
            accounts = Accounts(session)
            account = accounts.in_organization(org_id=org_id, email=email)
            if account is None:
                raise AccountError(f"no account {email} in this organization")
            # Their open conversations go back to the team queue rather than wait on nobody.
            accounts.disable(account, now=self._clock.now())
            return account

    # -- sign-up and verification ------------------------------------------------------------

    def signup(
        self, *, name: str, email: str, company: str, team_size: str, password: str
    ) -> SignupResult:
        email = normalise_email(email)
        check_password_rules(password)
        if not company.strip():
            raise AccountError("the company name is required")
        with self._db.read() as session:
            existing = Accounts(session).by_email(email)
        if existing is not None:
            if self._unfinished_signup(existing, password):
                # The first try created the account but its mail did not go (the mail server
                # was down): the same person trying again gets the link, not a dead end.
                org = self._orgs.get(existing.org_id)
                assert org is not None
                self.send_verification(existing)
                return SignupResult(org, existing)
            raise AccountError(f"an account for {email} already exists")
        org = self._orgs.create(self._free_slug(company), name=company.strip())
        assert org.id is not None
        self._orgs.update(org.id, contact_email=email, team_size=team_size)
        account = self.create(
            org.id, email=email, name=name, role="admin", team="Support", password=password
        )
        self.send_verification(account)
        return SignupResult(org, account)

    @staticmethod
    def _unfinished_signup(account: AgentAccount, password: str) -> bool:
        """Never verified, and the password its sign-up chose: the person who signed up."""
        return (
            account.email_verified_at is None
            and account.role == "admin"
            and account.password_hash is not None
            and bcrypt.checkpw(
                password.encode()[:MAX_PASSWORD_BYTES], account.password_hash.encode()
            )
        )

    def _free_slug(self, company: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", company.casefold()).strip("-")[:40] or "org"
        slug = base
        while self._orgs.by_slug(slug) is not None:
            slug = f"{base}-{secrets.token_hex(2)}"
        return slug

    def send_verification(self, account: AgentAccount) -> None:
        token = self._serializer("verify").dumps({"a": account.id, "e": account.email})
        self._mailer.send(
            to=account.email,
            subject="Verify your email for ImaraDesk",
            body=(
                f"Hello {account.name},\n\nPlease confirm your email address to start using "
                "ImaraDesk:\n"
                f"{self._base}/console/verify/{token}\n\nThe link works for 3 days."
            ),
        )

    def verify_email(self, token: str) -> AgentAccount:
        claims = self._load("verify", token, VERIFY_TTL)
        with self._db.write() as session:
            accounts = Accounts(session)
            account = accounts.get(int(claims["a"]))
            if account is None or account.email != claims["e"]:
                raise TokenInvalid("this link is not valid")
            accounts.mark_email_verified(account, now=self._clock.now())
            return account

    # -- password reset ------------------------------------------------------------------------

    def reset_token(self, account: AgentAccount) -> str:
        # Bound to the current hash: once the password changes, the link stops working.
        return self._serializer("reset").dumps(
            {"a": account.id, "h": _hash_tag(account.password_hash)}
        )

    def request_reset(self, email: str) -> None:
        """Email a reset link if the account exists; say nothing either way."""
        with self._db.read() as session:
            account = Accounts(session).by_email(normalise_email(email))
        if account is None:
            return
        # Sent in the background: the answer takes as long with an account as without one.
        self._mail_queue.send_later(
            to=account.email,
            subject="Reset your ImaraDesk password",
            body=(
                f"Hello {account.name},\n\nChoose a new password here:\n"
                f"{self._base}/console/reset/{self.reset_token(account)}\n\n"
                "The link works for an hour. If you did not ask for it, ignore this email."
            ),
        )

    def account_for_reset(self, token: str) -> AgentAccount:
        claims = self._load("reset", token, RESET_TTL)
        account = self.get(int(claims["a"]))
        if account is None or claims["h"] != _hash_tag(account.password_hash):
            raise TokenInvalid("this link has already been used or is not valid")
        return account

    def reset_password(self, token: str, password: str) -> AgentAccount:
        account = self.account_for_reset(token)
        new_hash = hash_password(password)
        assert account.id is not None
        with self._db.write() as session:
            # Sessions signed in with the old password end; following the link proves the address.
            return Accounts(session).set_password(
                account.id, password_hash=new_hash, now=self._clock.now()
            )

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        # Dated by our clock, like export links: a link's age is what the clock says.
        return URLSafeTimedSerializer(
            self._secret,
            salt=f"imaradesk-{purpose}",
            signer=ClockedSigner,
            signer_kwargs={"clock": self._clock},
        )

    def _load(self, purpose: str, token: str, max_age: int) -> dict[str, Any]:
        """The claims of a link we signed (JSON values)."""
        try:
            claims = self._serializer(purpose).loads(token, max_age=max_age)
        except SignatureExpired as e:
            raise TokenInvalid("this link has expired") from e
        except BadSignature as e:
            raise TokenInvalid("this link is not valid") from e
        if not isinstance(claims, dict):
            raise TokenInvalid("this link is not valid")
        return claims


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise AccountError("that does not look like an email address")
    return email


def _hash_tag(password_hash: str | None) -> str:
    return (password_hash or "none")[-12:]
