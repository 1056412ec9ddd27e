"""``/metrics`` for Prometheus, and the request counts and latencies it shows.

Only loopback (a Prometheus beside the service, or a proxy's health checks) or a request with
the configured token may read it: the figures describe the business's traffic.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from imaradesk.runtime.metrics import REQUEST_SECONDS, REQUESTS
from imaradesk.services import Services
from imaradesk.web.common import bearer_token, services

bp = Blueprint("metrics", __name__)
_LOOPBACK = frozenset({"127.0.0.1", "::1"})


class _Backlog(Collector):
    """Read at scrape time, the same for every process: what waits to be done."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = GaugeMetricFamily(
            "imaradesk_jobs_waiting", "Background tasks queued or running (turns, uploads)"
        )
        waiting.add_metric([], self._services.jobs.depth())
        yield waiting
        oldest = GaugeMetricFamily(
            "imaradesk_oldest_upload_seconds",
            "Age of the oldest upload still queued or being read (0: none)",
        )
        oldest.add_metric([], self._services.ingestion.oldest_unfinished_seconds())
        yield oldest


@bp.get("/metrics")
def metrics() -> Response:
    svc = services()
    token = svc.settings.metrics_token
    allowed = request.remote_addr in _LOOPBACK or (
        token is not None
        and hmac.compare_digest((bearer_token() or "").encode(), token.get_secret_value().encode())
    )
    if not allowed:
        abort(403, description="metrics are for loopback or the metrics token")
    registry: Any = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    scrape = CollectorRegistry()
    scrape.register(_Backlog(svc))
    body = generate_latest(registry) + generate_latest(scrape)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def register_metrics(app: Flask) -> None:
    @app.before_request
    def _started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _counted(response: Response) -> Response:
        # Endpoint names, never paths: a path carries an organization's slug or a token.
        endpoint = request.endpoint or "unmatched"
        started = g.get("metrics_started")
        if started is not None:
            REQUEST_SECONDS.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
        return response
