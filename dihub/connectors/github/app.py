"""GitHub App authentication: app ID + private key -> JWT -> one installation token per
organization, each installation on its own rate-limit quota.

How GitHub documents it (and how dihub does it):

* the app authenticates with a JWT signed RS256 by its private key: `iat` 60 s in the
  past (clock drift), `exp` at most 10 minutes ahead, `iss` the app ID or client ID
  (PyJWT signs it; a JWT is reused until a minute before it expires);
* `GET /app/installations` (JWT) lists where the app is installed: the account login of
  each installation decides which one serves a repository (`owner/repo` -> owner);
* `POST /app/installations/{id}/access_tokens` (JWT) gives an installation token and its
  `expires_at` (an hour). dihub asks for a new one when less than `refresh_margin_s`
  (default 5 minutes, at most half the lifetime) is left, and once more when GitHub
  answers 401 to a token (revoked or expired early); a second 401 stops the source;
* every installation has its own primary quota (5,000 requests an hour, more for large
  organizations, 15,000 on GitHub Enterprise Cloud), reported in the x-ratelimit-*
  headers of its requests: each installation's requests spend their own governor
  bucket (`HttpClient.with_credential`), so one organization waiting for its reset does
  not hold another's partitions.

The private key comes from the variable named by `app.private_key_env`, the file
`app.private_key_file`, or the keyring (stored by `dihub auth <source> --app-id ...
--private-key-file ...`, bound to the base_url's host like every credential). The key,
every JWT and every installation token are registered with dihub.redact; tokens are
minted for, and sent to, the configured host only (the run's one HTTP client).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:      # PyJWT and cryptography are imported only when an app signs in
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from dihub import secrets
from dihub.errors import AuthError, ConfigError
from dihub.http import HttpAuthError, HttpClient, LinkHeader, NotFound, paginate
from dihub.redact import register_secret

KEY_NAME = "app_private_key"       # dihub.secrets name of the stored PEM
JWT_BACKDATE_S = 60                # iat this far in the past (GitHub: clock drift)
JWT_LIFETIME_S = 540               # exp this far ahead: 10 minutes from iat, GitHub's most
JWT_REUSE_MARGIN_S = 60            # a JWT is replaced a minute before it expires
PER_PAGE = 100


@dataclass(frozen=True)
class Installation:
    id: int
    account: str                    # the organization's (or user's) login
    target_type: str | None = None  # Organization | User
    repository_selection: str | None = None     # all | selected

    @property
    def quota(self) -> str:
        """The governor's quota scope of this installation's requests."""
        return f"installation {self.id}"


@dataclass
class _Token:
    value: str
    issued_at: float
    expires_at: float


# ---------------------------------------------------------------- the private key


def load_private_key(source: str, config: Any) -> tuple[str, str]:
    """`(pem, via)`: the app's private key from `private_key_env`, `private_key_file` or
    the keyring (bound to the base_url's host); via is env, key file, keyring or file.
    AuthError naming where it looked and what to do (never any of the key)."""
    app = config.app
    fix = fix_command(source, config)
    if app.private_key_env:
        pem = os.environ.get(app.private_key_env, "").strip()
        if not pem:
            raise AuthError(f"the GitHub App private key of source '{source}' is not in "
                            f"${app.private_key_env} (unset or empty)",
                            hint=f"Put the app's PEM key in ${app.private_key_env}, or run "
                                 f"`{fix}` and drop `private_key_env`.")
        via = "env"
    elif app.private_key_file:
        path = Path(app.private_key_file).expanduser()
        try:
            pem = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(f"cannot read the GitHub App private key file {path} of source "
                            f"'{source}' ({type(exc).__name__})",
                            hint=f"Check `app.private_key_file` (a path on this host, "
                                 f"readable by this user), or run `{fix}`.") from None
        via = "key file"
    else:
        found = secrets.get_secret(source, KEY_NAME, host=host(config))
        if found is None:
            raise AuthError(f"no GitHub App private key for source '{source}'",
                            hint=f"Run `{fix}`, or set `app.private_key_env` / "
                                 "`app.private_key_file` in the source config.")
        pem, via = found
    register_key(pem)
    return pem, via


def register_key(pem: str) -> None:
    """Mask the key, and each of its base64 lines, in everything dihub prints or stores."""
    register_secret(pem)
    for line in pem.splitlines():
        line = line.strip()
        if len(line) >= 16 and not line.startswith("-----"):
            register_secret(line)


def signing_key(pem: str, source: str, config: Any) -> RSAPrivateKey:
    """The RSA key of a PEM, or an AuthError that shows none of it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, RSAPrivateKey):
        raise AuthError(f"the GitHub App private key of source '{source}' is not an "
                        "unencrypted PEM RSA private key",
                        hint="Download a private key (.pem) in the app's settings and run "
                             f"`{fix_command(source, config)}`.")
    return key


def fix_command(source: str, config: Any) -> str:
    return f"dihub auth {source} --app-id {config.app.app_id} --private-key-file KEY.pem"


def host(config: Any) -> str:
    return secrets.host_of(str(config.base_url))


class AppJWT:
    """JWTs for the app (RS256, iat 60 s back, exp 9 minutes ahead, iss the app ID),
    each reused until a minute before it expires. Thread-safe."""

    def __init__(self, app_id: str, key: RSAPrivateKey, clock: Callable[[], float] = time.time):
        self.app_id, self._key, self._clock = str(app_id), key, clock
        self._lock = threading.Lock()
        self._current: tuple[str, float] | None = None

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if self._current is None or now >= self._current[1] - JWT_REUSE_MARGIN_S:
                iat = int(now) - JWT_BACKDATE_S
                exp = int(now) + JWT_LIFETIME_S
                import jwt

                token = jwt.encode({"iat": iat, "exp": exp, "iss": self.app_id}, self._key,
                                   algorithm="RS256")
                register_secret(token)
                self._current = (token, float(exp))
            return self._current[0]

    def __repr__(self) -> str:
        return f"AppJWT(app_id={self.app_id!r}, ****)"


class _Bearer(httpx.Auth):
    """`Authorization: Bearer <value()>`, asked anew for each request; never in a repr."""

    def __init__(self, value: Callable[[], str]):
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._value()}"
        yield request

    def __repr__(self) -> str:
        return "Bearer(****)"


class InstallationAuth(httpx.Auth):
    """An installation's token on each request; on a 401, one new token and one retry
    (a token GitHub expired or revoked before dihub expected). Never in a repr."""

    requires_response_body = True       # the 401's connection is released before minting

    def __init__(self, app: GitHubApp, installation: Installation):
        self._app, self._inst = app, installation

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        token = self._app.token(self._inst)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = self._app.refresh(self._inst, stale=token, reason="401")
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request

    def __repr__(self) -> str:
        return f"InstallationAuth({self._inst.id}, ****)"


# ---------------------------------------------------------------- one run's app


class GitHubApp:
    """A run's GitHub App: its installations (listed once) and their tokens.

    `http` is the run's client (no credential of its own); the app's JWT requests go
    through a view of it on the `app` quota scope, each installation's through a view
    with its token on the installation's scope. `audit(action, outcome, detail)` records
    token refreshes. Thread-safe: partition threads share it.
    """

    def __init__(self, source: str, config: Any, http: HttpClient, *,
                 audit: Callable[..., None] | None = None,
                 clock: Callable[[], float] = time.time):
        self.source, self.config, self.app_config = source, config, config.app
        self._clock = clock
        self._audit = audit
        pem, self.key_via = load_private_key(source, config)
        self.jwt = AppJWT(self.app_config.app_id, signing_key(pem, source, config), clock)
        self.http = http.with_credential(_Bearer(self.jwt), quota="app",
                                          auth_hint=self._rejected_hint())
        self._lock = threading.Lock()               # token locks, the first failure
        self._listing = threading.Lock()            # the installations, listed once
        self._installations: dict[str, Installation] | None = None
        self._tokens: dict[int, _Token] = {}
        self._token_locks: dict[int, threading.Lock] = {}
        self._failure: HttpAuthError | None = None
        self.refreshes = 0

    # -- installations -----------------------------------------------------------------
    def installations(self) -> dict[str, Installation]:
        """Lower-cased account login -> installation (GET /app/installations, paged)."""
        with self._listing:
            if self._installations is None:
                found: dict[str, Installation] = {}
                for page in paginate(self._get, "/app/installations", LinkHeader(),
                                     {"per_page": PER_PAGE}):
                    for item in page.response.data or []:
                        account = item.get("account") or {}
                        login = str(account.get("login") or "")
                        if login:
                            found[login.lower()] = Installation(
                                int(item["id"]), login, item.get("target_type"),
                                item.get("repository_selection"))
                self._installations = found
            return self._installations

    def installation_for(self, owner: str, *, needed_for: str | None = None) -> Installation:
        """The installation on `owner`'s account, or a ConfigError naming the account and
        what to do."""
        inst = self.installations().get(owner.lower())
        if inst is not None:
            return inst
        installed = ", ".join(sorted(i.account for i in self.installations().values()))
        what = f"{needed_for} belongs to {owner!r}" if needed_for else f"{owner!r} is configured"
        raise ConfigError(
            f"GitHub App {self.app_config.app_id} is not installed on {owner!r} ({what}; "
            f"installed on: {installed or 'no account'})",
            key=f"sources.{self.source}.{'repos' if needed_for else 'orgs'}",
            hint=f"Install the app on {owner} (its settings page, \"Install App\"), with "
                 f"access to the repositories to sync, or remove {owner}'s repositories "
                 f"from sources.{self.source}.")

    def client_for(self, http: HttpClient, owner: str, *,
                   needed_for: str | None = None) -> HttpClient:
        """A view of `http` (a stream's view of the run's client) that sends `owner`'s
        installation token and spends that installation's quota."""
        inst = self.installation_for(owner, needed_for=needed_for)
        return http.with_credential(InstallationAuth(self, inst), quota=inst.quota,
                                    auth_hint=self._token_hint(inst))

    # -- tokens --------------------------------------------------------------------------
    def token(self, inst: Installation) -> str:
        """A token of `inst` with more than the refresh margin left (minted if needed)."""
        with self._token_lock(inst):
            tok = self._tokens.get(inst.id)
            if tok is None:
                return self._mint(inst, "first").value
            if self._clock() >= tok.expires_at - self._margin(tok):
                return self._mint(inst, "expiring").value
            return tok.value

    def refresh(self, inst: Installation, *, stale: str, reason: str) -> str:
        """A new token unless another thread already replaced `stale`."""
        with self._token_lock(inst):
            tok = self._tokens.get(inst.id)
            if tok is not None and tok.value != stale:
                return tok.value
            return self._mint(inst, reason).value

    def _margin(self, tok: _Token) -> float:
        return min(self.app_config.refresh_margin_s, (tok.expires_at - tok.issued_at) / 2)

    def _token_lock(self, inst: Installation) -> threading.Lock:
        with self._lock:
            return self._token_locks.setdefault(inst.id, threading.Lock())

    def _mint(self, inst: Installation, reason: str) -> _Token:
        if self._failure is not None:
            raise _copy(self._failure)
        issued = self._clock()
        try:
            resp = self.http.post(f"/app/installations/{inst.id}/access_tokens",
                                  allow_status=(404,))
        except HttpAuthError as err:
            raise self._remember(err) from None
        data = resp.data if isinstance(resp.data, dict) else {}
        if resp.status == 404 or not data.get("token"):
            raise AuthError(f"GitHub App {self.app_config.app_id}: no token for the "
                            f"installation on {inst.account} (HTTP {resp.status})",
                            hint=f"The app was uninstalled from {inst.account}, or suspended: "
                                 f"install it again, or remove {inst.account}'s repositories "
                                 f"from sources.{self.source}.")
        value = str(data["token"])
        register_secret(value)
        expires = _epoch(data.get("expires_at")) or issued + 3600
        tok = _Token(value, issued, expires)
        self._tokens[inst.id] = tok
        self.refreshes += reason != "first"
        if self._audit is not None:
            self._audit(action="token", outcome="ok", detail={
                "installation": inst.id, "account": inst.account, "reason": reason,
                "expires_at": data.get("expires_at")})
        return tok

    # -- errors ----------------------------------------------------------------------------
    def _get(self, url: str, params: Any) -> Any:
        if self._failure is not None:
            raise _copy(self._failure)
        try:
            return self.http.get(url, params=params)
        except HttpAuthError as err:
            raise self._remember(err) from None
        except NotFound:
            raise AuthError(f"{url} is not found on {host(self.config)}",
                            hint="GitHub Apps need GitHub Enterprise Server 2.x+ or "
                                 "github.com: check `base_url`.") from None

    def _remember(self, err: HttpAuthError) -> HttpAuthError:
        """The first rejection of the app's JWT, kept: later calls raise it again without
        asking GitHub (one revoked key is one message)."""
        with self._lock:
            if self._failure is None:
                self._failure = HttpAuthError(
                    f"{self.source}: GitHub rejected the JWT of app "
                    f"{self.app_config.app_id}: {_tail(str(err))}",
                    hint=self._rejected_hint(), status=err.status, method=err.method,
                    path=err.path)
            return _copy(self._failure)

    def _rejected_hint(self) -> str:
        return (f"The private key is not this app's, or was deleted, or `app_id` is wrong: "
                f"generate a private key in the app's settings and run "
                f"`{fix_command(self.source, self.config)}` (or update "
                f"{self._key_place()}). Also check this host's clock: the JWT is valid for "
                "10 minutes from now.")

    def _key_place(self) -> str:
        app = self.app_config
        if app.private_key_env:
            return f"${app.private_key_env}"
        if app.private_key_file:
            return f"the file {app.private_key_file}"
        return "the key stored in the keyring"

    def _token_hint(self, inst: Installation) -> str:
        return (f"GitHub rejected the installation token of {inst.account} twice (the app "
                f"was suspended or uninstalled, or lost access): check the app's installation "
                f"on {inst.account}, then run `dihub auth status {self.source} --check`. "
                "Nothing after the last checkpoint was lost; the next run continues from "
                "there.")


def _copy(err: HttpAuthError) -> HttpAuthError:
    return HttpAuthError(str(err), hint=err.hint, status=err.status, method=err.method,
                         path=err.path)


def _tail(message: str) -> str:
    """`source: GET /path -> 401 ...` without the source prefix."""
    head, sep, rest = message.partition(": ")
    return rest if sep and " " not in head else message


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
