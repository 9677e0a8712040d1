"""A real OpenID Connect provider for the single sign-on tests: the `oidc-provider` npm package
in a small Node script (tests/sso/provider/provider.mjs), started once per session on 127.0.0.1
and a free port. Its dependencies are installed with `npm ci` from the committed lock when
missing. The tests skip, saying so, only when node or npm is not installed. The browser test
gets a second instance of the same script whose client sends people back to the live server."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

PROVIDER_DIR = Path(__file__).parent / "provider"
CLIENT_ID = "release-portal"
CLIENT_SECRET = "test-client-secret-4c1d"
CALLBACK = "http://testserver/account/sso/callback/"


@dataclass
class OidcProvider:
    issuer: str

    def set_account(self, subject: str, **claims) -> None:
        response = requests.put(f"{self.issuer}/test/accounts/{subject}", json=claims, timeout=10)
        response.raise_for_status()

    def sign_in(self, client, subject: str, *, next_url: str = "", around_callback=None):
        """The authorization-code flow end to end: the portal's start view sends the browser to
        the provider; the provider signs `subject` in (its interaction, answered here as a browser
        would) and sends the browser back to the callback with a code, which the portal exchanges
        at the provider's token endpoint. Returns the portal's answer to the callback (made inside
        `around_callback`, a context manager, when given)."""
        start = client.get("/account/sso/start/" + (f"?next={next_url}" if next_url else ""))
        assert start.status_code == 302, start
        authorize = start["Location"]
        assert authorize.startswith(self.issuer), authorize
        browser = requests.Session()
        response = browser.get(authorize, allow_redirects=False, timeout=10)
        interaction = urljoin(authorize, response.headers["Location"])
        assert browser.get(interaction, timeout=10).json()["prompt"] == "login"
        response = browser.post(f"{interaction}/login", data={"login": subject}, allow_redirects=False, timeout=10)
        location = urljoin(interaction, response.headers["Location"])
        while not location.startswith("http://testserver/"):
            response = browser.get(location, allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), response.text
            location = urljoin(location, response.headers["Location"])
        back = urlsplit(location)
        assert back.path == "/account/sso/callback/"
        with around_callback if around_callback is not None else contextlib.nullcontext():
            return client.get(f"{back.path}?{back.query}")


@contextlib.contextmanager
def _provider_process(redirect_uri: str):
    """The provider script running on a free port, its client allowed to send people back to
    `redirect_uri`; its npm dependencies installed from the committed lock when missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("the single sign-on tests need node and npm (to run the oidc-provider package): not on PATH")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PROVIDER_DIR, check=True,
                       timeout=600)
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([node, "provider.mjs", CLIENT_ID, CLIENT_SECRET, redirect_uri], cwd=PROVIDER_DIR,
                                   stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            line = process.stdout.readline()
            if not line.startswith("listening "):
                process.wait(timeout=10)
                errors.seek(0)
                pytest.fail(f"the OpenID Connect provider did not start: {line!r} {errors.read()[-2000:]}")
            yield OidcProvider(issuer=line.split()[1].strip())
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def oidc_provider():
    """The provider for Django's test client, which the provider sends back to http://testserver."""
    with _provider_process(CALLBACK) as provider:
        yield provider


@pytest.fixture(scope="session")
def browser_oidc_provider(live_server):
    """The same provider script for a real browser: its client sends people back to the live
    server's callback (a provider allows only the redirect URIs registered for the client)."""
    with _provider_process(f"{live_server.url}/account/sso/callback/") as provider:
        yield provider


def _point_sso_at(settings, provider: OidcProvider, tmp_path) -> None:
    """Single sign-on pointed at `provider`, the client secret given as a file reference."""
    from apps.sso.provider import forget_metadata

    secret = tmp_path / "oidc-client-secret"
    secret.write_text(CLIENT_SECRET + "\n")
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = ""
    settings.OIDC_CLIENT_SECRET_FILE = str(secret)
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    forget_metadata()


@pytest.fixture
def sso_on(settings, oidc_provider, tmp_path):
    """Single sign-on pointed at the test provider (Django's test client)."""
    from apps.sso.provider import forget_metadata

    _point_sso_at(settings, oidc_provider, tmp_path)
    yield oidc_provider
    forget_metadata()


@pytest.fixture
def sso_on_for_browser(settings, browser_oidc_provider, tmp_path):
    """Single sign-on pointed at the browser's test provider (the live server's callback)."""
    from apps.sso.provider import forget_metadata

    _point_sso_at(settings, browser_oidc_provider, tmp_path)
    yield browser_oidc_provider
    forget_metadata()
