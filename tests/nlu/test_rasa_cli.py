"""`imaradesk org rasa`: sets and clears an organization's Rasa server, refusing unusable URLs
and, with --check, a server that does not parse."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from imaradesk.cli import _Context, main
from tests.helpers import seed_org
from tests.nlu.fake_rasa import FakeRasa, serve


@pytest.fixture
def cli(make_services):
    services = make_services()
    seed_org(services, "wallet", faq_csv=None)

    def run(*args: str):
        return CliRunner().invoke(main, list(args), obj=_Context(services))

    run.services = services  # type: ignore[attr-defined]
    return run


def rasa_url(cli) -> str | None:
    return cli.services.organizations.by_slug("wallet").rasa_url


def test_set_and_switch_off(cli) -> None:
    result = cli("org", "rasa", "--org", "wallet", "--url", "http://127.0.0.1:5005/?token=abc")
    assert result.exit_code == 0, result.output
    assert rasa_url(cli) == "http://127.0.0.1:5005/?token=abc"
    assert "abc" not in result.output, "a token in the URL is not printed"
    off = cli("org", "rasa", "--org", "wallet", "--off")
    assert off.exit_code == 0 and rasa_url(cli) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "rasa:5005"], "not an http(s) URL"),
        (["--url", "http://x/" + "a" * 500], "longer than 500"),
        ([], "either --url URL or --off"),
        (["--url", "http://x", "--off"], "either --url URL or --off"),
    ],
)
def test_unusable_arguments_are_refused(cli, args: list[str], message: str) -> None:
    result = cli("org", "rasa", "--org", "wallet", *args)
    assert result.exit_code == 2 and message in result.output
    assert rasa_url(cli) is None


def test_unknown_organization(cli) -> None:
    result = cli("org", "rasa", "--org", "nobody", "--off")
    assert result.exit_code == 1 and "unknown organization" in result.output


def test_check_asks_the_server_before_saving(cli) -> None:
    with serve(FakeRasa(intents={"hello": ("greet", 0.97)})) as fake:
        ok = cli("org", "rasa", "--org", "wallet", "--url", fake.url, "--check")
    assert ok.exit_code == 0 and "intent 'greet' (0.97)" in ok.output
    assert rasa_url(cli) == fake.url
    with serve(FakeRasa(mode="error")) as broken:
        bad = cli("org", "rasa", "--org", "wallet", "--url", broken.url, "--check")
    assert bad.exit_code == 1 and "HTTP 500" in bad.output
    assert rasa_url(cli) == fake.url, "a failed check changes nothing"
