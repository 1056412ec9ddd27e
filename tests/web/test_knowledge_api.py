"""The REST API on a real server: token auth, uploads with job progress, entries, preview."""

from __future__ import annotations

import time

import pytest
import requests

from imaradesk.storage.db import Database
from tests.helpers import SCHOOL_FAQ, seed_org

FAQ = b"""question,answer
How do I open a savings account?,Visit any branch with your ID and KES 500.
What are your opening hours?,We open 8am to 5pm on weekdays.
"""


@pytest.fixture
def api(make_services, live_server_factory, database: Database):
    services = make_services(database, max_upload_bytes=200_000)
    org = seed_org(services, "acme", faq_csv=None)
    other = seed_org(services, "other", faq_csv=SCHOOL_FAQ)
    server = live_server_factory(services)
    token = services.api_tokens.issue(org.id, "ci").secret
    other_token = services.api_tokens.issue(other.id, "other").secret
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return server, session, other_token, services


def _wait_for(session: requests.Session, url: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = session.get(url, timeout=10).json()
        if job["status"] in ("ready", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_upload_poll_and_answer(api) -> None:
    """202 + Location to a job that reaches ready; the preview then answers from the upload.
    The file is larger than any webhook body may be (64 KiB): uploads have their own limit."""
    server, session, _, _ = api
    padding = b"".join(b"Question number %d?,Answer number %d.\n" % (i, i) for i in range(2500))
    assert len(FAQ + padding) > 64 * 1024
    response = session.post(
        f"{server.url}/api/v1/documents",
        files={"file": ("accounts.csv", FAQ + padding, "text/csv")},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    job = _wait_for(session, server.url + response.headers["Location"])
    assert (job["status"], job["created"], job["percent"]) == ("ready", 2502, 100)

    preview = session.post(
        f"{server.url}/api/v1/answers/preview",
        json={"question": "how can I open a savings account"},
        timeout=10,
    ).json()
    assert preview["outcome"] == "answer"
    assert preview["reply"] == "Visit any branch with your ID and KES 500."
    chosen = [p for p in preview["passages"] if p["chosen"]]
    assert chosen and chosen[0]["source"] == "accounts.csv" and chosen[0]["similarity"] > 0.5

    documents = session.get(f"{server.url}/api/v1/documents", timeout=10).json()["documents"]
    assert [d["name"] for d in documents] == ["accounts.csv"]
    assert documents[0]["latest_job"]["status"] == "ready"


def test_entries_can_be_added_searched_edited_disabled_and_deleted(api) -> None:
    """Every change is live when the call returns: the preview follows each step."""
    server, session, _, _ = api
    base = f"{server.url}/api/v1"

    def outcome(question: str) -> str:
        return session.post(
            f"{base}/answers/preview", json={"question": question}, timeout=10
        ).json()["outcome"]

    created = session.post(
        f"{base}/entries",
        json={
            "question": "Do you lend to farmers?",
            "answer": "Yes: the Shamba loan, up to KES 50,000.",
            "category": "Loans",
            "phrasings": ["Is there a loan for farmers?"],
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["source"] == "added by hand" and len(entry["phrasings"]) == 2
    assert outcome("Do you lend to farmers?") == "answer"

    found = session.get(f"{base}/entries", params={"q": "shamba"}, timeout=10).json()
    assert [e["id"] for e in found["entries"]] == [entry["id"]]

    edited = session.patch(
        f"{base}/entries/{entry['id']}",
        json={"answer": "Yes: the Shamba loan, up to KES 80,000."},
        timeout=10,
    ).json()
    assert edited["answer"].endswith("80,000.")

    session.patch(f"{base}/entries/{entry['id']}", json={"enabled": False}, timeout=10)
    assert outcome("Do you lend to farmers?") != "answer", "a disabled entry never answers"

    assert session.delete(f"{base}/entries/{entry['id']}", timeout=10).status_code == 204
    assert session.get(f"{base}/entries/{entry['id']}", timeout=10).status_code == 404


def test_delete_document_removes_its_answers_at_once(api) -> None:
    server, session, _, _ = api
    base = f"{server.url}/api/v1"
    response = session.post(f"{base}/documents", files={"file": ("accounts.csv", FAQ)}, timeout=10)
    job = _wait_for(session, server.url + response.headers["Location"])
    assert session.delete(f"{base}/documents/{job['document_id']}", timeout=10).status_code == 204
    preview = session.post(
        f"{base}/answers/preview", json={"question": "What are your opening hours?"}, timeout=10
    ).json()
    assert preview["outcome"] != "answer"
    assert session.get(f"{base}/jobs/{job['id']}", timeout=10).status_code == 404


def test_broken_upload_reports_its_reason(api) -> None:
    server, session, _, _ = api
    response = session.post(
        f"{server.url}/api/v1/documents",
        files={"file": ("scan.pdf", b"%PDF-1.4 garbage")},
        timeout=10,
    )
    job = _wait_for(session, server.url + response.headers["Location"])
    assert job["status"] == "failed" and "scan.pdf" in job["error"]
    rejected = session.post(
        f"{server.url}/api/v1/documents", files={"file": ("run.exe", b"MZ")}, timeout=10
    )
    assert rejected.status_code == 400 and "unsupported file type" in rejected.json()["message"]


def test_tokens_are_required_scoped_and_revocable(api) -> None:
    """No token, a wrong one or a revoked one: 401. Another org's token never sees our data."""
    server, session, other_token, services = api
    url = f"{server.url}/api/v1/entries"
    assert requests.get(url, timeout=10).status_code == 401
    bad = requests.get(url, headers={"Authorization": "Bearer imd_nope"}, timeout=10)
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")

    created = session.post(
        url, json={"question": "Secret of acme?", "answer": "Only acme knows."}, timeout=10
    ).json()
    other = requests.get(
        f"{url}/{created['id']}", headers={"Authorization": f"Bearer {other_token}"}, timeout=10
    )
    assert other.status_code == 404
    listed = requests.get(url, headers={"Authorization": f"Bearer {other_token}"}, timeout=10)
    assert "Only acme knows." not in listed.text

    org = services.organizations.by_slug("acme")
    [token] = services.api_tokens.tokens(org.id)
    services.api_tokens.revoke(org.id, token.id)
    assert session.get(url, timeout=10).status_code == 401


def test_bad_input_gets_clear_errors(api) -> None:
    """Unknown fields, wrong types, blank text, huge ids and oversized uploads are refused."""
    server, session, _, services = api
    base = f"{server.url}/api/v1"
    assert session.post(f"{base}/entries", json={"question": "q"}, timeout=10).status_code == 422
    assert (
        session.post(
            f"{base}/entries", json={"question": "  ", "answer": "x"}, timeout=10
        ).status_code
        == 422
    )
    assert session.patch(f"{base}/entries/1", json={"enabled": 0}, timeout=10).status_code == 422, (
        "strict: 0 is not false"
    )
    assert session.get(f"{base}/entries/99999999999999", timeout=10).status_code in (404, 422)
    too_big = b"x" * (services.settings.max_upload_bytes + 100_000)
    response = session.post(f"{base}/documents", files={"file": ("a.txt", too_big)}, timeout=30)
    assert response.status_code == 413
    assert services.ingestion.documents(services.organizations.by_slug("acme").id) == []


def test_openapi_document_describes_the_api(api) -> None:
    server, _, _, _ = api
    document = requests.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"/api/v1/documents", "/api/v1/entries/{entry_id}", "/api/v1/answers/preview"} <= set(
        document["paths"]
    )
