"""The ``imaradesk`` command group and what every subcommand shares."""

from __future__ import annotations

import logging

import click
from pydantic import ValidationError
from rich.console import Console

from imaradesk.runtime.log_config import configure_logging
from imaradesk.services import Services, build_services
from imaradesk.settings import Settings
from imaradesk.storage.encryption import MasterKeyError
from imaradesk.storage.models import Organization

console = Console()
err_console = Console(stderr=True)


class _Context:
    """Builds the services on first use, so that commands which need no model load none."""

    def __init__(self, services: Services | None = None) -> None:
        self._services = services
        self._serving_at: str | None = None

    def serving_at(self, host: str, port: int) -> None:
        """The address this process serves on: where links point (export links, mails) when
        IMARADESK_PUBLIC_BASE_URL does not say. Before the services are built."""
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self._serving_at = f"http://{shown}:{port}"

    @property
    def services(self) -> Services:
        if self._services is None:
            try:
                settings = Settings()
                if self._serving_at:
                    settings = settings.model_copy(update={"served_base_url": self._serving_at})
                self._services = build_services(settings)
            except MasterKeyError as e:
                raise click.ClickException(f"cannot start: {e}") from e
            except ValidationError as e:
                raise click.ClickException(f"invalid configuration: {e}") from e
        return self._services


pass_ctx = click.make_pass_decorator(_Context, ensure=True)


def _org_or_exit(services: Services, slug: str) -> Organization:
    org = services.organizations.by_slug(slug)
    if org is None:
        raise click.ClickException(
            f"unknown organization {slug!r} (create it with: imaradesk org create)"
        )
    return org


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """ImaraDesk: a WhatsApp-first AI customer-support desk."""
    configure_logging(level=logging.INFO if verbose else logging.WARNING)
