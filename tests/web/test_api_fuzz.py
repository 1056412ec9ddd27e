"""Schemathesis, from the served OpenAPI document, against the real API on loopback.

It generates valid and invalid requests for every operation and checks that none gets a 500,
that responses match the documented schemas and status codes, and that invalid input is
refused. Excluded: ``positive_data_acceptance``, because a schema-valid upload can still be
refused for what is inside it (an .exe named in a string field, an empty file): that 400 is
the documented behaviour, not a bug.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from imaradesk.storage.db import Database
from tests.helpers import seed_org


def test_api_survives_schemathesis(
    make_services, live_server_factory, sqlite_database: Database, tmp_path: Path
) -> None:
    services = make_services(sqlite_database, max_upload_bytes=100_000)
    org = seed_org(services, "acme")
    token = services.api_tokens.issue(org.id, "fuzz").secret
    server = live_server_factory(services)
    binary = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(binary),
            "run",
            f"{server.url}/api/v1/openapi.json",
            "--url",
            server.url,
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "15",
            "--seed",
            "7",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 200, (
        result.stdout[-2000:]
    )
    assert "Tested: 12" in result.stdout, "every operation of the document was exercised"
