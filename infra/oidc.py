"""A real OpenID Provider on loopback for tests: panva's ``oidc-provider`` (OpenID Certified), from npm.

``infra/oidc/package.json`` pins ``oidc-provider`` (:data:`OIDC_PROVIDER_VERSION`) and
``package-lock.json`` every package beneath it; :func:`ensure_modules` has npm install them into
``<cache>/npm-oidc-<version>-<lock digest>`` once (``npm ci``, under a file lock), and every later run
reuses them. :func:`start_provider` runs ``node infra/oidc/provider.mjs`` with a JSON configuration:
issuer ``http://127.0.0.1:<port>``, confidential clients (``client_secret_basic``, response type
``code``, PKCE S256 required), and the accounts whose claims it answers with.

Sign-in uses oidc-provider's development interactions (a login form that takes any login name, then
a consent form); :func:`sign_in` fills both in with httpx, so a test without a browser can sign in
as one of the accounts and get the authorization response (``code``, ``state``, ``iss``)::

    with start_provider(accounts={"staff-1": {"name": "山田 花子", "email": "hanako@example.jp"}}) as op:
        begun = rp.start()
        params = op.sign_in(begun.url, "staff-1")
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from infra.services import (
    LOOPBACK,
    ServiceError,
    ToolMissing,
    cache_dir,
    progress,
    require_tool,
    run,
    stop_process_group,
    tail,
    wait_until,
)

OIDC_PROVIDER_VERSION = "9.13.3"
"""Pinned oidc-provider release; must equal the version in ``infra/oidc/package.json``."""

HERE = Path(__file__).resolve().parent / "oidc"
SCRIPT = HERE / "provider.mjs"
MANIFESTS = ("package.json", "package-lock.json")
COMPLETE_MARKER = ".complete"
NODE_MINIMUM = 20  # oidc-provider 9 asks for Node 22 LTS (it warns on 20) but runs on 20.19+

DEFAULT_ACCOUNTS: Mapping[str, Mapping[str, Any]] = {
    "staff-001": {"name": "山田 花子", "email": "hanako.yamada@example.go.jp", "email_verified": True},
    "staff-002": {"name": "佐藤 一郎", "email": "ichiro.sato@example.go.jp", "email_verified": True},
}
"""Two agency staff accounts, keyed by subject, used when a test names none."""


@dataclass(frozen=True)
class Client:
    """One confidential client registered at the provider (``client_secret_basic``, code + PKCE)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "client_secret": self.client_secret, "redirect_uris": list(self.redirect_uris)}


def default_client(client_id: str = "kiroku-web", redirect_uri: str = "http://127.0.0.1:8400/auth/callback") -> Client:
    """A client with a fresh random secret (the redirect URI is never fetched by :func:`sign_in`)."""
    return Client(client_id, secrets.token_urlsafe(32), (redirect_uri,))


@functools.lru_cache(maxsize=1)
def node_executable() -> str:
    """``node`` on PATH, checked to be Node.js 20 or newer."""
    hint = f"the local OpenID Provider needs Node.js {NODE_MINIMUM}+ and npm (apt-get install nodejs npm)"
    node = require_tool("node", hint)
    probe = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    found = re.match(r"v(\d+)\.", probe.stdout.strip())
    major = int(found.group(1)) if found else 0
    if major < NODE_MINIMUM:
        raise ToolMissing(f"{node} is Node.js {probe.stdout.strip() or 'of unknown version'}; {hint}",
                          field="node", expected=f"Node.js {NODE_MINIMUM} or newer", got=probe.stdout.strip())
    return node


def modules_home(version: str = OIDC_PROVIDER_VERSION) -> Path:
    """The cache directory for this lock file: ``<cache>/npm-oidc-<version>-<digest of the lock>``."""
    digest = hashlib.sha256(b"".join((HERE / name).read_bytes() for name in MANIFESTS)).hexdigest()[:12]
    return cache_dir() / f"npm-oidc-{version}-{digest}"


def ensure_modules(version: str = OIDC_PROVIDER_VERSION) -> Path:
    """The directory whose ``node_modules`` holds oidc-provider, installing it with npm on first use.

    Reuses the cache directory when its completion marker is present; otherwise runs ``npm ci``
    (exactly the lock file, no install scripts) in a scratch directory, swaps it into place and writes
    the marker, so an interrupted install is never taken for a complete one. A file lock keeps two
    processes (pytest workers) from installing at once.
    """
    home = modules_home(version)
    if (home / COMPLETE_MARKER).is_file():
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f"{home.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / COMPLETE_MARKER).is_file():  # another process finished while we waited
            return home
        node_executable()
        npm = require_tool("npm", "oidc-provider is installed from npm (apt-get install npm)")
        scratch = home.with_name(home.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        for name in MANIFESTS:
            shutil.copy2(HERE / name, scratch / name)
        progress(f"installing oidc-provider {version} from npm into {home} (first run only)")
        run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"],
            what=f"npm install of oidc-provider {version}", timeout=600, cwd=scratch)
        installed = scratch / "node_modules" / "oidc-provider" / "package.json"
        got = json.loads(installed.read_text()).get("version") if installed.is_file() else None
        if got != version:
            raise ServiceError(f"npm finished but node_modules has oidc-provider {got}, not {version}",
                               expected=version, got=got)
        shutil.rmtree(home, ignore_errors=True)
        scratch.rename(home)
        (home / COMPLETE_MARKER).write_text(version + "\n")
    return home


@dataclass
class OidcProvider:
    """A running oidc-provider: its issuer, clients and accounts, and the process serving them."""

    issuer: str
    port: int
    clients: tuple[Client, ...]
    accounts: Mapping[str, Mapping[str, Any]]
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def client(self) -> Client:
        """The first (usually the only) registered client."""
        return self.clients[0]

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def sign_in(self, authorization_url: str, login: str, *, consent: bool = True, timeout: float = 10.0) -> dict[str, str]:
        """:func:`sign_in` as ``login``, stopping at the redirect URI of the client the URL names.

        ``login`` must be one of :attr:`accounts` (the development login form would take any name and
        the provider then fail with a server error).
        """
        if login not in self.accounts:
            raise ValueError(f"{login!r} is not one of the provider's accounts: {sorted(self.accounts)}")
        query = dict(parse_qsl(urlsplit(authorization_url).query))
        redirect_uri = query.get("redirect_uri") or self.client.redirect_uris[0]
        return sign_in(authorization_url, login, redirect_uri=redirect_uri, consent=consent, timeout=timeout)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the provider's process group, SIGKILL after a few seconds."""
        stop_process_group(self.process.pid, timeout=10.0, is_alive=self.running)


@contextmanager
def start_provider(
    *,
    port: int = 0,
    clients: Sequence[Client] | None = None,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    claims_in_id_token: bool = False,
    workdir: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[OidcProvider]:
    """Run oidc-provider on ``127.0.0.1:port`` (0: any free port) until the block ends.

    ``clients`` default to one :func:`default_client`; ``accounts`` (subject -> claims such as
    ``name`` and ``email``) to :data:`DEFAULT_ACCOUNTS`. With ``claims_in_id_token`` the ID token
    carries the profile and email claims too; otherwise (oidc-provider's default, Core 1.0 §5.4) only
    the UserInfo response does. Waits until discovery answers; stops the process group on exit.
    """
    import httpx

    node = node_executable()
    modules = ensure_modules()
    chosen = tuple(clients) if clients else (default_client(),)
    known = dict(accounts if accounts is not None else DEFAULT_ACCOUNTS)
    with tempfile.TemporaryDirectory(prefix="kiroku-oidc-", dir=workdir) as scratch:
        base = Path(scratch)
        ready_file = base / "ready.json"
        config = {
            "modules_dir": str(modules), "host": LOOPBACK, "port": port, "ready_file": str(ready_file),
            "clients": [c.to_json() for c in chosen], "accounts": known, "claims_in_id_token": claims_in_id_token,
        }
        config_file = base / "config.json"
        config_file.write_text(json.dumps(config, ensure_ascii=False))
        config_file.chmod(0o600)  # it holds the client secrets
        log = base / "provider.log"
        with log.open("wb") as out:
            process = subprocess.Popen([node, str(SCRIPT), str(config_file)], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, cwd=base)

        def ready() -> dict[str, Any] | None:
            if process.poll() is not None:
                raise ServiceError(f"oidc-provider exited with code {process.returncode}\n{tail(log)}",
                                   expected="a running provider", got=process.returncode)
            if not ready_file.is_file():
                return None
            state: dict[str, Any] = json.loads(ready_file.read_text())
            answer = httpx.get(f"{state['issuer']}/.well-known/openid-configuration", timeout=2.0)
            return state if answer.status_code == 200 and answer.json().get("issuer") == state["issuer"] else None

        provider: OidcProvider | None = None
        try:
            state = wait_until(ready, timeout=timeout, what="oidc-provider's discovery document",
                               on_timeout=lambda: tail(log))
            provider = OidcProvider(issuer=state["issuer"], port=int(state["port"]), clients=chosen,
                                    accounts=known, log=log, process=process)
            yield provider
        finally:
            stop_process_group(process.pid, timeout=10.0, is_alive=lambda: process.poll() is None)


class _Forms(HTMLParser):
    """The forms of a page: action, method and the named inputs with their values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "method": attributes.get("method", "get").lower(),
                               "inputs": {}})
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["inputs"][attributes["name"]] = attributes.get("value", "")


def sign_in(
    authorization_url: str,
    login: str,
    *,
    redirect_uri: str,
    password: str = "any",
    consent: bool = True,
    timeout: float = 10.0,
    max_steps: int = 12,
) -> dict[str, str]:
    """Drive oidc-provider's login and consent pages as a browser would; return the answer's query.

    GETs ``authorization_url`` and follows redirects by hand with a cookie jar of its own; on the
    login page submits ``login`` (the account's subject; the development form ignores the password),
    on the consent page confirms (or, with ``consent=False``, aborts), and stops at the first
    redirect to ``redirect_uri`` without requesting it. Returns its query parameters
    (``code``, ``state``, ``iss``, or ``error``...). :class:`ServiceError` if it never gets there.
    """
    import httpx

    target = urlsplit(redirect_uri)

    def at_redirect_uri(url: str) -> dict[str, str] | None:
        where = urlsplit(url)
        if (where.scheme, where.netloc, where.path) == (target.scheme, target.netloc, target.path):
            return dict(parse_qsl(where.query, keep_blank_values=True))
        return None

    with httpx.Client(timeout=timeout, follow_redirects=False) as browser:
        response = browser.get(authorization_url)
        for _ in range(max_steps):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                answer = at_redirect_uri(location)
                if answer is not None:
                    return answer
                response = browser.get(location)
                continue
            parser = _Forms()
            parser.feed(response.text)
            form = next((f for f in parser.forms if f["inputs"].get("prompt") in ("login", "consent")), None)
            if response.status_code != 200 or form is None:
                raise ServiceError(f"sign-in stopped at {response.url} (HTTP {response.status_code}) without reaching "
                                   f"{redirect_uri}:\n{_text_of(response.text)[:1500]}",
                                   expected=f"a redirect to {redirect_uri}", got=response.status_code)
            fields = dict(form["inputs"])
            if fields["prompt"] == "login":
                fields.update(login=login, password=password)
            action = urljoin(str(response.url), form["action"])
            if fields["prompt"] == "consent" and not consent:
                response = browser.get(action.rstrip("/") + "/abort")  # the page's "cancel" link: access_denied
                continue
            response = browser.post(action, data=fields)
    raise ServiceError(f"sign-in did not reach {redirect_uri} within {max_steps} steps", expected=redirect_uri)


def _text_of(html: str) -> str:
    """The text of an HTML page, roughly (for error messages in tests)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|script).*?</\1>", "", html))).strip()
