"""The embeddable web chat as a visitor meets it: its weight and how soon it answers.

    python -m bench.widget [--runs 10]

The demo organization (real encoders, SQLite) is served on loopback; a static page on another
port carries only the script tag. In Debian's headless Chromium, each run a new browser
context (nothing cached, no token) loads the page, and we time: until the launcher is on the
page; and from pressing Enter on the first question to the answer's bubble (the token, the
privacy notice and the answer all included). Baseline of the same run: the same browser
loading the same static page without the tag. Prints one JSON document: bytes of widget.js
(raw and gzip), medians and the ratio against the baseline.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from werkzeug.serving import make_server

from imaradesk.app import create_app
from imaradesk.demo.seed import DEMO_SLUG, seed_demo
from imaradesk.services import build_services
from imaradesk.settings import Settings

CHROMIUM = "/usr/bin/chromium"
QUESTION = "nimesahau PIN yangu"


def static_site(pages: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def run(runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    script = resources.files("imaradesk.web").joinpath("static/widget.js").read_bytes()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
        services = build_services(
            Settings(
                environment="test", data_dir=Path(tmp) / "var", database_url=None, redis_url=None
            )
        )
        seed_demo(services)
        desk = make_server("127.0.0.1", 0, create_app(services=services), threaded=True)
        threading.Thread(target=desk.serve_forever, daemon=True).start()
        desk_url = f"http://127.0.0.1:{desk.server_port}"
        page = "<!doctype html><html lang='en'><title>Shop</title><main><h1>Shop</h1></main>"
        site, site_url = static_site(
            {
                "/": (
                    page + f'<script src="{desk_url}/static/widget.js" data-org="{DEMO_SLUG}" '
                    "async></script></html>"
                ).encode(),
                "/bare": (page + "</html>").encode(),
            }
        )
        loaded, launcher, answered = [], [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for _ in range(runs + 1):  # the first run warms the server and the encoders
                context = browser.new_context()
                tab = context.new_page()
                started = time.perf_counter()
                tab.goto(f"{site_url}/bare")
                tab.wait_for_selector("h1")
                bare = time.perf_counter() - started
                started = time.perf_counter()
                tab.goto(f"{site_url}/")
                tab.wait_for_selector("button.launcher")
                shown = time.perf_counter() - started
                tab.click("button.launcher")
                tab.fill("#text", QUESTION)
                started = time.perf_counter()
                tab.press("#text", "Enter")
                tab.wait_for_selector(".bubble.bot >> nth=1")
                first = time.perf_counter() - started
                context.close()
                loaded.append(bare * 1000)
                launcher.append(shown * 1000)
                answered.append(first * 1000)
            browser.close()
        site.shutdown()
        desk.shutdown()
        services.close()
    loaded, launcher, answered = loaded[1:], launcher[1:], answered[1:]
    return {
        "benchmark": "widget",
        "runs": runs,
        "widget_js_bytes": len(script),
        "widget_js_gzip_bytes": len(gzip.compress(script, 9)),
        "page_without_widget_p50_ms": round(statistics.median(loaded), 1),
        "launcher_shown_p50_ms": round(statistics.median(launcher), 1),
        "first_answer_p50_ms": round(statistics.median(answered), 1),
        "launcher_ratio_to_bare_page": round(
            statistics.median(launcher) / statistics.median(loaded), 2
        ),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    print(json.dumps(run(parser.parse_args().runs), indent=1))
