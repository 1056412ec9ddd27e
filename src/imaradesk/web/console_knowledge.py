"""The knowledge pages of the console: uploads with progress, entries, try-it, gaps, API tokens.

Thin like the rest of the console: the work is in ``knowledge_index`` and ``api_tokens``.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from imaradesk.knowledge_index.curation import EntryEdit, EntryInvalid
from imaradesk.knowledge_index.documents import SUPPORTED_EXTENSIONS
from imaradesk.knowledge_index.ingestion import UploadRejected
from imaradesk.knowledge_index.tuning import tuning_allowed
from imaradesk.tenants.api_tokens import TokenError
from imaradesk.tenants.quotas import StorageQuotaExceeded
from imaradesk.web.common import services
from imaradesk.web.console import _org, roles

bp = Blueprint("knowledge", __name__, url_prefix="/console/knowledge")
EDITORS = ("admin", "knowledge_manager")
PAGE_SIZE = 50


def _page_args() -> tuple[str, int]:
    query = request.args.get("q", "")[:200]
    try:
        page = max(1, min(int(request.args.get("page", "1")), 100_000))
    except ValueError:
        page = 1
    return query, page


# The languages the bot speaks; the entry form has an answer box for each.
ANSWER_LANGUAGES = (("en", "English"), ("sw", "Kiswahili"))


def _edit_from(form: Any) -> EntryEdit:
    """The entry form: the question, other phrasings one per line, the answer, a category, the
    answer's language and the answer in the other languages."""
    language = form.get("language", "en")
    return EntryEdit(
        question=form.get("question", ""),
        answer=form.get("answer", ""),
        category=form.get("category", ""),
        phrasings=tuple(
            line.strip() for line in form.get("phrasings", "").splitlines() if line.strip()
        ),
        language=language,
        translations=tuple(
            (code, form.get(f"answer_{code}", ""))
            for code, _ in ANSWER_LANGUAGES
            if code != language
        ),
    )


@bp.route("", methods=["GET", "POST"])
@roles(*EDITORS)
def page() -> Any:
    org = _org()
    svc = services()
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = "Choose a file to upload."
        else:
            try:
                job = svc.ingestion.submit(
                    org.id,  # type: ignore[arg-type]
                    upload.filename,
                    upload.read(),
                    uploaded_by=current_user.account.email,
                )
                flash(f"{job.document_name} is being read; its progress is shown below.")
                return redirect(url_for("knowledge.page"))
            except (UploadRejected, StorageQuotaExceeded) as e:
                error = f"{e}. Nothing was imported."
    query, page_number = _page_args()
    entries = svc.curation.entries(
        org.id,  # type: ignore[arg-type]
        query=query,
        offset=(page_number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return render_template(
        "console/knowledge.html",
        org=org,
        documents=svc.ingestion.documents(org.id),  # type: ignore[arg-type]
        entries=entries,
        query=query,
        page=page_number,
        pages=max(1, -(-entries.total // PAGE_SIZE)),
        extensions=", ".join(SUPPORTED_EXTENSIONS),
        max_mib=svc.ingestion.max_upload_bytes // 2**20,
        tokens=svc.api_tokens.tokens(org.id) if current_user.role == "admin" else [],  # type: ignore[arg-type]
        tuning_on=tuning_allowed(
            exclude_from_training=org.exclude_from_training, tuning_opt_in=org.tuning_opt_in
        ),
        error=error,
    ), 400 if error else 200


@bp.get("/documents")
@roles(*EDITORS)
def documents() -> Any:
    """The documents table alone, polled by the page while a job is running."""
    org = _org()
    return render_template(
        "console/_documents.html",
        documents=services().ingestion.documents(org.id),  # type: ignore[arg-type]
    )


@bp.post("/documents/<int:document_id>/delete")
@roles(*EDITORS)
def delete_document(document_id: int) -> Response:
    removed = services().ingestion.delete_document(_org().id, document_id)  # type: ignore[arg-type]
    if removed is None:
        abort(404)
    flash(f"Document deleted with its {removed} entries; the bot no longer answers from it.")
    return redirect(url_for("knowledge.page"))


@bp.route("/entries/new", methods=["GET", "POST"])
@roles(*EDITORS)
def new_entry() -> Any:
    org = _org()
    error = None
    form = request.form
    if request.method == "POST":
        try:
            services().curation.create_entry(org.id, _edit_from(form))  # type: ignore[arg-type]
            flash("Entry added; the bot answers from it now.")
            return redirect(url_for("knowledge.page"))
        except EntryInvalid as e:
            error = str(e)
    return render_template(
        "console/entry_form.html",
        org=org,
        entry=None,
        form=form,
        error=error,
        languages=ANSWER_LANGUAGES,
    ), 400 if error else 200


@bp.route("/entries/<int:entry_id>", methods=["GET", "POST"])
@roles(*EDITORS)
def edit_entry(entry_id: int) -> Any:
    org = _org()
    curation = services().curation
    entry = curation.entry(org.id, entry_id)  # type: ignore[arg-type]
    if entry is None:
        abort(404)
    error = None
    form = request.form
    if request.method == "POST":
        try:
            curation.update_entry(org.id, entry_id, _edit_from(form))  # type: ignore[arg-type]
            flash("Entry saved; the bot answers with the new text now.")
            return redirect(url_for("knowledge.page"))
        except EntryInvalid as e:
            error = str(e)
    return render_template(
        "console/entry_form.html",
        org=org,
        entry=entry,
        form=form,
        error=error,
        languages=ANSWER_LANGUAGES,
    ), 400 if error else 200


@bp.post("/entries/<int:entry_id>/toggle")
@roles(*EDITORS)
def toggle_entry(entry_id: int) -> Response:
    org = _org()
    curation = services().curation
    entry = curation.entry(org.id, entry_id)  # type: ignore[arg-type]
    if entry is None:
        abort(404)
    curation.update_entry(org.id, entry_id, EntryEdit(enabled=not entry.enabled))  # type: ignore[arg-type]
    flash(
        "Entry disabled: the bot no longer answers from it." if entry.enabled else "Entry enabled."
    )
    return redirect(request.referrer or url_for("knowledge.page"))


@bp.post("/entries/<int:entry_id>/delete")
@roles(*EDITORS)
def delete_entry(entry_id: int) -> Response:
    if not services().curation.delete_entry(_org().id, entry_id):  # type: ignore[arg-type]
        abort(404)
    flash("Entry deleted.")
    return redirect(url_for("knowledge.page"))


@bp.post("/try")
@roles(*EDITORS)
def try_question() -> Any:
    """What the bot would answer, shown in the page without a reload (htmx)."""
    question = request.form.get("question", "").strip()[:1000]
    if not question:
        return render_template("console/_try.html", preview=None, question="")
    preview = services().insights.preview(_org(), question)
    return render_template("console/_try.html", preview=preview, question=question)


@bp.get("/unanswered")
@roles(*EDITORS)
def unanswered() -> Any:
    org = _org()
    try:
        days = max(1, min(int(request.args.get("days", "30")), 365))
    except ValueError:
        days = 30
    groups = services().insights.unanswered(org, now=services().clock.now(), days=days)
    return render_template("console/unanswered.html", org=org, groups=groups, days=days)


@bp.post("/tuning")
@roles("admin")
def set_tuning() -> Response:
    """Turn the tuning on (or off) here: the admin's choice over the exclusion from training."""
    opt_in = request.form.get("tuning_opt_in") == "on"
    org = _org()
    services().organizations.set_tuning_opt_in(
        org.id,  # type: ignore[arg-type]
        opt_in,
        actor=f"console:{current_user.account.email}",
    )
    flash(
        "Tuning is turned on here: the answer model is refitted on your phrasings."
        if opt_in
        else "Tuning is no longer turned on here: it is off while the organization is excluded "
        "from training."
    )
    return redirect(url_for("knowledge.page"))


@bp.post("/tokens")
@roles("admin")
def create_token() -> Any:
    org = _org()
    try:
        issued = services().api_tokens.issue(org.id, request.form.get("name", ""))  # type: ignore[arg-type]
    except TokenError as e:
        flash(str(e), "error")
        return redirect(url_for("knowledge.page"))
    response = Response(render_template("console/token_issued.html", org=org, token=issued))
    # The secret is shown once: no cache may keep the page.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens/<int:token_id>/revoke")
@roles("admin")
def revoke_token(token_id: int) -> Response:
    if not services().api_tokens.revoke(_org().id, token_id):  # type: ignore[arg-type]
        abort(404)
    flash("Token revoked: it no longer opens the API.")
    return redirect(url_for("knowledge.page"))
