"""The service's Prometheus metrics, recorded where things happen, read at /metrics.

Under gunicorn each worker process counts for itself; with ``PROMETHEUS_MULTIPROC_DIR`` set
(``imaradesk serve`` sets it for several workers) prometheus-client sums them at scrape time.
Labels are endpoints, channels, outcomes and error codes: never an organization's or a
customer's name, address or words.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "imaradesk_http_requests",
    "HTTP requests answered, by endpoint and status",
    ["endpoint", "status"],
)
REQUEST_SECONDS = Histogram(
    "imaradesk_http_request_seconds",
    "Time to answer an HTTP request, by endpoint",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
)
TURNS = Counter(
    "imaradesk_turns", "Customer messages handled, by channel and outcome", ["channel", "outcome"]
)
SIGNATURE_FAILURES = Counter(
    "imaradesk_signature_failures", "Provider webhooks refused for their signature", ["channel"]
)
RATE_LIMITED = Counter(
    "imaradesk_rate_limited", "Requests refused by a rate limit, by endpoint", ["endpoint"]
)
FAILED_SIGNINS = Counter("imaradesk_failed_signins", "Console sign-ins refused")
ERASURES = Counter("imaradesk_erasures", "Contacts erased (in chat, by the desk or retention)")
KNOWLEDGE_SNAPSHOTS = Counter(
    "imaradesk_knowledge_snapshots",
    "Knowledge snapshots a process took up, by encoder and how: built, loaded from files, or "
    "the previous one kept while another process builds",
    ["encoder", "how"],
)
PENDING_TURNS = Counter(
    "imaradesk_pending_turns",
    "Accepted messages kept to be answered later, by event: deferred (over the organization's "
    "quota) or resumed (queued again by the sweeper: their time came, or their job was lost)",
    ["event"],
)
SEND_FAILURES = Counter(
    "imaradesk_send_failures", "Outbound messages a provider refused", ["channel", "code"]
)
