"""The REST API for knowledge managers' tools: documents, jobs, entries, preview, gaps.

Authenticated by a per-organization bearer token (``imaradesk token create`` or the console);
every call works on the token's organization only. Request and response shapes are pydantic
models, from which flask-openapi3 writes the OpenAPI document served at /api/v1/openapi.json.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask import Response, abort, g, jsonify, request, url_for
from flask_openapi3 import APIBlueprint, FileStorage, Tag
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from imaradesk.knowledge_index.curation import EntryEdit, EntryInvalid
from imaradesk.knowledge_index.ingestion import JobView, UploadRejected
from imaradesk.storage.models import KnowledgeDocument, Organization
from imaradesk.tenants.quotas import StorageQuotaExceeded
from imaradesk.web.common import services

SECURITY = [{"bearer": []}]
api = APIBlueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="knowledge", description="Documents and entries the bot answers from")],
    abp_security=SECURITY,
)

# Ids are 32-bit in every database we run on: larger ones are a client error, not a crash.
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Text = Annotated[str, StringConstraints(pattern=r"\S", max_length=1000)]
AnswerText = Annotated[str, StringConstraints(pattern=r"\S", max_length=20000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# -- shapes ----------------------------------------------------------------------------------


class _Out(BaseModel):
    # Filled from the services' dataclasses and rows by attribute: no field-by-field copies.
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(BaseModel):
    error: str
    message: str


class JobOut(_Out):
    id: int
    document_id: int
    document_name: str
    status: Literal["queued", "processing", "ready", "failed"]
    stage: str
    done: int
    total: int
    percent: int
    created: int
    updated: int
    removed: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class DocumentOut(_Out):
    id: int
    name: str
    media_type: str
    size_bytes: int
    sha256: str
    status: Literal["queued", "processing", "ready", "failed"]
    error: str | None
    entries: int
    created_at: datetime
    updated_at: datetime
    latest_job: JobOut | None = None

    @classmethod
    def of(cls, document: KnowledgeDocument, job: JobView | None) -> DocumentOut:
        latest = JobOut.model_validate(job) if job else None
        return cls.model_validate(document).model_copy(update={"latest_job": latest})


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class EntryOut(_Out):
    id: int
    external_id: str
    question: str
    answer: str
    category: str | None
    source: str
    kind: str
    location: str | None
    enabled: bool
    phrasings: list[str]
    updated_at: datetime


class EntryList(BaseModel):
    total: int
    offset: int
    entries: list[EntryOut]


class EntryIn(_Strict):
    question: Text
    answer: AnswerText
    category: Annotated[str, StringConstraints(max_length=200)] | None = None
    phrasings: Annotated[list[Text], Field(max_length=49)] = []
    enabled: bool = True


class EntryPatch(_Strict):
    question: Text | None = None
    answer: AnswerText | None = None
    category: Annotated[str, StringConstraints(max_length=200)] | None = None
    phrasings: Annotated[list[Text], Field(max_length=49)] | None = None
    enabled: bool | None = None


class PassageOut(_Out):
    entry_id: int
    question: str
    answer: str
    source: str
    location: str | None
    kind: str
    similarity: float
    lexical: float | None
    fused: float | None
    chosen: bool


class PreviewIn(_Strict):
    question: Text


class PreviewOut(_Out):
    outcome: Literal["answer", "clarify", "handoff"]
    reply: str
    confidence: float
    method: str
    passages: list[PassageOut]


class UnansweredGroupOut(_Out):
    size: int
    examples: list[str]
    last_asked: datetime
    nearest_entry: str | None


class UnansweredOut(_Out):
    groups: list[UnansweredGroupOut]


class DocumentPath(BaseModel):
    document_id: RowId


class JobPath(BaseModel):
    job_id: RowId


class EntryPath(BaseModel):
    entry_id: RowId


class EntryQuery(BaseModel):
    q: Annotated[str, StringConstraints(max_length=200)] = ""
    source: Annotated[str, StringConstraints(max_length=300)] | None = None
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class UnansweredQuery(BaseModel):
    days: Annotated[int, Field(ge=1, le=365)] = 30
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class UploadForm(BaseModel):
    file: FileStorage


_ERRORS: dict[int | str, type[BaseModel]] = {401: ErrorOut, 404: ErrorOut}


# -- authentication --------------------------------------------------------------------------


@api.before_request
def _authenticate() -> None:
    if request.endpoint == "api.openapi_document":
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    org_id = (
        services().api_tokens.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    )
    org = services().organizations.get(org_id) if org_id is not None else None
    if org is None or org.data_destroyed_at is not None:
        response = jsonify(error="unauthorized", message="a valid API token is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="imaradesk"'
        abort(response)
    g.api_org = org


def _org() -> Organization:
    return g.api_org


def _org_id() -> int:
    assert g.api_org.id is not None
    return g.api_org.id


def _json(model: BaseModel, status: int = 200) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def _error(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    return response


# -- documents -------------------------------------------------------------------------------


@api.get("/documents", responses={200: DocumentList, **_ERRORS})
def list_documents() -> Response:
    """Uploaded documents, newest first, with their latest ingestion job."""
    rows = services().ingestion.documents(_org_id())
    return _json(DocumentList(documents=[DocumentOut.of(d, j) for d, j in rows]))


@api.post("/documents", responses={202: JobOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut})
def upload_document(form: UploadForm) -> Response:
    """Upload a CSV, Markdown, HTML, text, PDF or DOCX file; it is ingested in the background.

    Answers 202 with the job; poll its Location until the status is ready or failed. A file
    with the name of an existing document replaces that document's entries.
    """
    upload = form.file
    data = upload.read()
    try:
        job = services().ingestion.submit(_org_id(), upload.filename or "", data, uploaded_by="api")
    except UploadRejected as e:
        return _error(400, "upload_rejected", str(e))
    except StorageQuotaExceeded as e:
        return _error(413, "storage_quota_exceeded", str(e))
    response = _json(JobOut.model_validate(job), 202)
    response.headers["Location"] = url_for("api.get_job", job_id=job.id)
    return response


@api.get("/documents/<int:document_id>", responses={200: DocumentOut, **_ERRORS})
def get_document(path: DocumentPath) -> Response:
    found = services().ingestion.document(_org_id(), path.document_id)
    if found is None:
        return _error(404, "not_found", "no such document")
    return _json(DocumentOut.of(*found))


@api.delete("/documents/<int:document_id>", responses={204: None, **_ERRORS})
def delete_document(path: DocumentPath) -> Response:
    """Delete a document; its entries leave the index before this returns."""
    if services().ingestion.delete_document(_org_id(), path.document_id) is None:
        return _error(404, "not_found", "no such document")
    return Response(status=204)


@api.get("/jobs/<int:job_id>", responses={200: JobOut, **_ERRORS})
def get_job(path: JobPath) -> Response:
    job = services().ingestion.job(_org_id(), path.job_id)
    if job is None:
        return _error(404, "not_found", "no such job")
    return _json(JobOut.model_validate(job))


# -- entries ---------------------------------------------------------------------------------


@api.get("/entries", responses={200: EntryList, 401: ErrorOut})
def list_entries(query: EntryQuery) -> Response:
    """Entries containing every word of ``q`` (question, answer, phrasings, category, source)."""
    page = services().curation.entries(
        _org_id(), query=query.q, source=query.source, offset=query.offset, limit=query.limit
    )
    return _json(
        EntryList(
            total=page.total,
            offset=query.offset,
            entries=[EntryOut.model_validate(e) for e in page.entries],
        )
    )


@api.post("/entries", responses={201: EntryOut, 400: ErrorOut, 401: ErrorOut})
def create_entry(body: EntryIn) -> Response:
    """Add an entry by hand; the bot answers from it when this returns."""
    try:
        entry = services().curation.create_entry(
            _org_id(),
            EntryEdit(
                question=body.question,
                answer=body.answer,
                category=body.category,
                phrasings=tuple(body.phrasings),
                enabled=body.enabled,
            ),
        )
    except EntryInvalid as e:
        return _error(400, "invalid_entry", str(e))
    response = _json(EntryOut.model_validate(entry), 201)
    response.headers["Location"] = url_for("api.get_entry", entry_id=entry.id)
    return response


@api.get("/entries/<int:entry_id>", responses={200: EntryOut, **_ERRORS})
def get_entry(path: EntryPath) -> Response:
    entry = services().curation.entry(_org_id(), path.entry_id)
    if entry is None:
        return _error(404, "not_found", "no such entry")
    return _json(EntryOut.model_validate(entry))


@api.patch("/entries/<int:entry_id>", responses={200: EntryOut, 400: ErrorOut, **_ERRORS})
def update_entry(path: EntryPath, body: EntryPatch) -> Response:
    """Change an entry's text, phrasings or category, or disable it (``enabled: false``)."""
    try:
        entry = services().curation.update_entry(
            _org_id(),
            path.entry_id,
            EntryEdit(
                question=body.question,
                answer=body.answer,
                category=body.category,
                phrasings=tuple(body.phrasings) if body.phrasings is not None else None,
                enabled=body.enabled,
            ),
        )
    except EntryInvalid as e:
        return _error(400, "invalid_entry", str(e))
    if entry is None:
        return _error(404, "not_found", "no such entry")
    return _json(EntryOut.model_validate(entry))


@api.delete("/entries/<int:entry_id>", responses={204: None, **_ERRORS})
def delete_entry(path: EntryPath) -> Response:
    if not services().curation.delete_entry(_org_id(), path.entry_id):
        return _error(404, "not_found", "no such entry")
    return Response(status=204)


# -- insight ---------------------------------------------------------------------------------


@api.post("/answers/preview", responses={200: PreviewOut, 401: ErrorOut})
def preview_answer(body: PreviewIn) -> Response:
    """What the bot would answer, from which entries, with which scores; nothing is recorded."""
    org = services().organizations.get(_org_id())
    assert org is not None
    preview = services().insights.preview(org, body.question)
    return _json(PreviewOut.model_validate(preview))


@api.get("/unanswered", responses={200: UnansweredOut, 401: ErrorOut})
def unanswered(query: UnansweredQuery) -> Response:
    """Recent customer questions the bot could not answer, grouped by meaning, largest first."""
    groups = services().insights.unanswered(
        _org(), now=services().clock.now(), days=query.days, limit=query.limit
    )
    return _json(UnansweredOut(groups=[UnansweredGroupOut.model_validate(g) for g in groups]))
