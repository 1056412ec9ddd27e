"""The agent console: server-rendered pages with htmx polling. Thin: the work is in console/."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)

from imaradesk.console.accounts import (
    AccountError,
    EmailNotVerified,
    LoginFailed,
    LoginLocked,
    TokenInvalid,
)
from imaradesk.console.desk import DeskError, NotFound
from imaradesk.console.mailer import MailError
from imaradesk.delivery.outbound import OutboundError, WindowClosed
from imaradesk.llm.translation import TranslationFailed, TranslationRefused
from imaradesk.runtime.metrics import FAILED_SIGNINS
from imaradesk.storage.models import AgentAccount, Organization
from imaradesk.web.common import services

bp = Blueprint("console", __name__, url_prefix="/console")
login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = "Please sign in."
login_manager.session_protection = "strong"


class ConsoleUser(UserMixin):
    def __init__(self, account: AgentAccount) -> None:
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_version}"

    @property
    def org_id(self) -> int:
        return self.account.org_id

    @property
    def role(self) -> str:
        return self.account.role


@login_manager.user_loader
def _load_user(user_id: str) -> ConsoleUser | None:
    account_id, _, version = user_id.partition(":")
    if not account_id.isdigit() or not version.isdigit():
        return None
    account = services().accounts.get(int(account_id))
    if (
        account is None
        or account.disabled_at is not None
        or account.session_version != int(version)
    ):
        return None  # disabled, or the password changed since this session began
    return ConsoleUser(account)


def _org() -> Organization:
    org = services().organizations.get(current_user.org_id)
    if org is None or org.data_destroyed_at is not None:
        abort(404)
    return org


def roles(*allowed: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


AGENTS = ("agent", "admin")


@bp.app_template_filter("age")
def _age(delta: Any) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 24 else f"{hours // 24} d {hours % 24} h"


# -- signing in ---------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        try:
            account = services().accounts.authenticate(
                request.form.get("email", ""), request.form.get("password", "")
            )
        except (LoginFailed, LoginLocked, EmailNotVerified, AccountError) as e:
            FAILED_SIGNINS.inc()
            return render_template(
                "console/login.html", error=str(e), email=request.form.get("email", "")
            ), 401
        login_user(ConsoleUser(account))
        return redirect(url_for("console.inbox"))
    return render_template("console/login.html")


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    return redirect(url_for("console.login"))


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    if request.method == "POST":
        form = request.form
        try:
            services().accounts.signup(
                name=form.get("name", ""),
                email=form.get("email", ""),
                company=form.get("company", ""),
                team_size=form.get("team_size", ""),
                password=form.get("password", ""),
            )
        except (AccountError, MailError) as e:
            return render_template("console/signup.html", error=str(e), form=form), 400
        return render_template(
            "console/message.html",
            title="Check your email",
            text="We sent you a link to verify your email address.",
        )
    return render_template("console/signup.html", form={})


@bp.get("/verify/<token>")
def verify(token: str) -> Any:
    try:
        services().accounts.verify_email(token)
    except TokenInvalid as e:
        return render_template("console/message.html", title="Link not valid", text=str(e)), 400
    flash("Your email is verified. You can sign in now.")
    return redirect(url_for("console.login"))


@bp.route("/reset", methods=["GET", "POST"])
def reset_request() -> Any:
    if request.method == "POST":
        try:
            services().accounts.request_reset(request.form.get("email", ""))
        except (AccountError, MailError):
            pass  # the same answer whether or not the address has an account
        return render_template(
            "console/message.html",
            title="Check your email",
            text="If that address has an account, we sent it a link to choose a new password.",
        )
    return render_template("console/reset_request.html")


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_form(token: str) -> Any:
    accounts = services().accounts
    try:
        account = accounts.account_for_reset(token)
    except TokenInvalid as e:
        return render_template("console/message.html", title="Link not valid", text=str(e)), 400
    if request.method == "POST":
        if request.form.get("password") != request.form.get("confirm"):
            return render_template(
                "console/reset_form.html", error="The passwords differ.", account=account
            ), 400
        try:
            accounts.reset_password(token, request.form.get("password", ""))
        except (AccountError, TokenInvalid) as e:
            return render_template("console/reset_form.html", error=str(e), account=account), 400
        flash("Your password is set. Sign in with it now.")
        return redirect(url_for("console.login"))
    return render_template("console/reset_form.html", account=account)


# -- the inbox --------------------------------------------------------------------------------


@bp.get("/")
@roles(*AGENTS, "knowledge_manager")
def inbox() -> Any:
    if current_user.role == "knowledge_manager":
        return redirect(url_for("knowledge.page"))
    scope = request.args.get("scope", "all")
    return render_template("console/inbox.html", org=_org(), scope=scope, rows=_rows(scope))


@bp.get("/inbox/rows")
@roles(*AGENTS)
def inbox_rows() -> Any:
    scope = request.args.get("scope", "all")
    return render_template("console/_inbox_rows.html", rows=_rows(scope), scope=scope)


def _rows(scope: str) -> list:
    if scope not in ("all", "mine", "unassigned"):
        abort(400)
    return services().desk.inbox(_org(), scope=scope, account=current_user.account)


# -- a conversation ------------------------------------------------------------------------


def _view(handoff_id: int) -> Any:
    try:
        return services().desk.view(_org(), handoff_id)
    except NotFound:
        abort(404)


def _thread(template: str, handoff_id: int) -> Any:
    view = _view(handoff_id)
    languages = services().translator.thread(view.org, view.contact, view.messages)
    return render_template(template, view=view, languages=languages)


@bp.get("/handoffs/<int:handoff_id>")
@roles(*AGENTS)
def conversation(handoff_id: int) -> Any:
    return _thread("console/conversation.html", handoff_id)


@bp.get("/handoffs/<int:handoff_id>/messages")
@roles(*AGENTS)
def conversation_messages(handoff_id: int) -> Any:
    return _thread("console/_messages.html", handoff_id)


# Shown in the page (a voice note plays, a photo shows); anything else is only downloaded.
_INLINE_MEDIA = ("audio/", "image/jpeg", "image/png", "image/webp")


@bp.get("/handoffs/<int:handoff_id>/messages/<int:message_id>/media/<int:position>")
@roles(*AGENTS)
def media(handoff_id: int, message_id: int, position: int) -> Any:
    try:
        found = services().desk.media_file(_org(), handoff_id, message_id, position)
    except NotFound:
        abort(404)
    inline = found.content_type.startswith(_INLINE_MEDIA)
    response = Response(
        found.data, mimetype=found.content_type if inline else "application/octet-stream"
    )
    response.headers["Content-Disposition"] = (
        "inline" if inline else f'attachment; filename="message-{message_id}-{position}"'
    )
    # A customer's file is never a page: no scripts, no caching beyond this agent's tab.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/handoffs/<int:handoff_id>/messages/<int:message_id>/translate")
@roles(*AGENTS)
def translate_message(handoff_id: int, message_id: int) -> Any:
    view = _view(handoff_id)
    message = next((m for m in view.messages if m.id == message_id), None)
    if message is None:
        abort(404)
    try:
        translation = services().translator.translate(view.org, view.contact, message)
    except TranslationRefused:
        abort(403)
    except TranslationFailed:
        # 200 on purpose: htmx swaps no error response in, and the agent should read why.
        return render_template("console/_translation.html", translation=None)
    return render_template("console/_translation.html", translation=translation)


def _act(handoff_id: int, action: Callable[[], Any], done: str) -> Any:
    try:
        action()
        flash(done)
    except NotFound:
        abort(404)
    except WindowClosed as e:
        flash(f"Not sent: {e}.", "error")
    except (DeskError, OutboundError) as e:
        flash(str(e), "error")
    return redirect(url_for("console.conversation", handoff_id=handoff_id))


@bp.post("/handoffs/<int:handoff_id>/take")
@roles(*AGENTS)
def take(handoff_id: int) -> Any:
    return _act(
        handoff_id,
        lambda: services().desk.take(_org(), handoff_id, current_user.account),
        "You own this conversation.",
    )


@bp.post("/handoffs/<int:handoff_id>/assign")
@roles(*AGENTS)
def assign(handoff_id: int) -> Any:
    agent_id = request.form.get("agent_id", "")
    if not agent_id.isdigit():
        abort(400)
    return _act(
        handoff_id,
        lambda: services().desk.assign(_org(), handoff_id, int(agent_id), by=current_user.account),
        "Reassigned.",
    )


@bp.post("/handoffs/<int:handoff_id>/resolve")
@roles(*AGENTS)
def resolve(handoff_id: int) -> Any:
    try:
        services().desk.resolve(_org(), handoff_id)
    except NotFound:
        abort(404)
    flash("Resolved. The assistant answers this customer again and asked them to rate your help.")
    return redirect(url_for("console.inbox"))


@bp.post("/handoffs/<int:handoff_id>/reply")
@roles(*AGENTS)
def reply(handoff_id: int) -> Any:
    text = request.form.get("text", "")

    def send() -> None:
        result = services().desk.reply(_org(), handoff_id, current_user.account, text)
        if result.failed:
            raise DeskError(f"{result.failed} part(s) could not be delivered: see below and retry.")

    return _act(handoff_id, send, "Sent.")


@bp.post("/handoffs/<int:handoff_id>/template")
@roles(*AGENTS)
def send_template(handoff_id: int) -> Any:
    template_id = request.form.get("template_id", "")
    if not template_id.isdigit():
        abort(400)
    return _act(
        handoff_id,
        lambda: services().desk.send_template(
            _org(), handoff_id, current_user.account, int(template_id)
        ),
        "Template sent.",
    )


@bp.post("/handoffs/<int:handoff_id>/messages/<int:message_id>/retry")
@roles(*AGENTS)
def retry(handoff_id: int, message_id: int) -> Any:
    return _act(
        handoff_id, lambda: services().desk.retry(_org(), handoff_id, message_id), "Sent again."
    )


# -- team ---------------------------------------------------------------------


@bp.route("/team", methods=["GET", "POST"])
@roles("admin")
def team() -> Any:
    org = _org()
    error = None
    if request.method == "POST":
        form = request.form
        try:
            services().accounts.invite(
                org.id,  # type: ignore[arg-type]
                email=form.get("email", ""),
                name=form.get("name", ""),
                role=form.get("role", "agent"),
                team=form.get("team") or None,
                languages=[
                    lang.strip() for lang in form.get("languages", "en").split(",") if lang.strip()
                ],
            )
            flash(f"Invitation sent to {form.get('email')}.")
            return redirect(url_for("console.team"))
        except (AccountError, MailError) as e:
            error = str(e)
    members = services().accounts.members(org.id)  # type: ignore[arg-type]
    return render_template(
        "console/team.html", org=org, members=members, error=error
    ), 400 if error else 200
