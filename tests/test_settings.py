"""The settings refuse unsafe production values, and development never signs with a known key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from imaradesk.services import session_secret
from imaradesk.settings import Settings
from tests.conftest import TEST_MASTER_KEYS


def test_production_refuses_a_placeholder_secret_or_a_missing_master_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="IMARADESK_SECRET_KEY"):
        Settings(environment="production", data_dir=tmp_path, master_keys=TEST_MASTER_KEYS)
    with pytest.raises(ValidationError, match="IMARADESK_MASTER_KEYS"):
        Settings(environment="production", data_dir=tmp_path, secret_key="x" * 40)


def test_development_signs_with_a_random_key_kept_beside_the_data(tmp_path: Path) -> None:
    """Proves a desk started without IMARADESK_SECRET_KEY cannot have its console sessions forged
    with the published default, and that restarts keep sessions valid (same key)."""
    settings = Settings(data_dir=tmp_path)
    assert settings.has_placeholder_secret_key
    first = session_secret(settings)
    assert first != settings.secret_key.get_secret_value() and len(first) >= 40
    assert session_secret(Settings(data_dir=tmp_path)) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0, "readable by its owner only"
    assert session_secret(Settings(data_dir=tmp_path / "other")) != first
    assert session_secret(Settings(data_dir=tmp_path, secret_key="a real secret " * 3)) == (
        "a real secret " * 3
    )


def test_links_point_where_the_service_serves_unless_a_public_url_is_set(
    make_services, sqlite_database
) -> None:
    """`imaradesk serve --port 5050` without IMARADESK_PUBLIC_BASE_URL: a customer's export
    link pointed at port 5000, where nothing answered. It follows the bound address now; a
    configured public URL still wins (behind a proxy the bound address is not reachable)."""
    from imaradesk.cli.base import _Context
    from tests.helpers import Chat, seed_org

    context = _Context()
    context.serving_at("0.0.0.0", 5050)
    assert context._serving_at == "http://127.0.0.1:5050", "a wildcard bind is reached locally"
    for settings, expected in (
        ({"served_base_url": "http://127.0.0.1:5050"}, "http://127.0.0.1:5050/privacy/exports/"),
        (
            {"served_base_url": "http://127.0.0.1:5050", "public_base_url": "https://desk.example"},
            "https://desk.example/privacy/exports/",
        ),
    ):
        services = make_services(sqlite_database, **settings)
        if services.organizations.by_slug("acme") is None:
            seed_org(services, "acme")
        chat = Chat(services, "acme", sender="+254700000321")
        chat.send("Habari")
        [link] = [r.text for r in chat.send("nataka data yangu yote") if "/privacy/" in r.text]
        assert expected in link, link
