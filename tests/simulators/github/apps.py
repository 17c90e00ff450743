"""GitHub App authentication in the simulator: JWT-only /app endpoints, installation
tokens with `expires_at`, and a primary quota per installation.

As GitHub documents it: the app's JWT (RS256, verified here with the app's public key;
`iss` the app ID or client ID; `exp` no more than 10 minutes ahead) is accepted on
GET /app, GET /app/installations[/{id}], GET /orgs/{org}/installation,
GET /repos/{owner}/{repo}/installation, GET /users/{username}/installation and
POST /app/installations/{id}/access_tokens (201 with `token` and `expires_at`), and
nowhere else. An installation token reaches the repositories of its account only
(others: 404), until it expires (401 Bad credentials), and spends its installation's
own quota, which its x-ratelimit-* headers report.

Test controls: `token_lifetime_s` (GitHub: an hour), `expire_after_uses` (a token
answers 401 after that many requests: expired or revoked earlier than its
`expires_at` said), `set_public_key` (the app's key was rotated: JWTs signed with the
old one are refused), `quota(installation_id)` (that installation's Quota),
`exhaust_at_first_use` ({installation: seconds}: its quota runs out at its first data
request and resets that many seconds later, however long the client took to start).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt

from ..common import Reply
from . import query
from .common import API, error_body, iso
from .data import Dataset
from .query import Params
from .state import Quota

JWT_MAX_AHEAD_S = 600
PERMISSIONS = {"actions": "read", "contents": "read", "issues": "read", "metadata": "read",
               "pull_requests": "read"}
DOC_APPS = "https://docs.github.com/rest/apps/apps"


@dataclass
class Issued:
    installation: int
    expires_at: float
    uses: int = 0


@dataclass
class App:
    """A GitHub App registered on the simulator.

    public_key_pem   the app's public key (tests generate the key pair at run time)
    installations    account login -> installation id
    rate_limit       each installation's quota per `rate_window_s`
    """

    public_key_pem: bytes | str
    installations: Mapping[str, int]
    app_id: int = 12345
    client_id: str = "Iv23liSimulatedApp01"
    slug: str = "dihub-sync"
    token_lifetime_s: float = 3600
    expire_after_uses: int | None = None
    rate_limit: int = 5000
    rate_window_s: float = 3600
    clock: Callable[[], float] = time.time
    tokens: dict[str, Issued] = field(default_factory=dict)
    minted: list[tuple[int, float]] = field(default_factory=list)   # (installation, when)
    jwts: list[dict[str, Any]] = field(default_factory=list)        # accepted claims
    seen_jwts: set[str] = field(default_factory=set)                # every JWT presented
    refused_jwts: int = 0
    exhaust_at_first_use: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.installations = {k.lower(): v for k, v in self.installations.items()}
        self.quotas = {i: Quota(self.rate_limit, self.rate_window_s, self.clock)
                       for i in self.installations.values()}
        self.set_public_key(self.public_key_pem)

    # -- test controls ---------------------------------------------------------------
    def set_public_key(self, pem: bytes | str) -> None:
        from cryptography.hazmat.primitives import serialization
        self.public_key_pem = pem
        raw = pem.encode() if isinstance(pem, str) else pem
        self._public_key = serialization.load_pem_public_key(raw)

    def quota(self, installation: int) -> Quota:
        return self.quotas[installation]

    def account_of(self, installation: int) -> str:
        return next(k for k, v in self.installations.items() if v == installation)

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self.tokens)

    # -- credentials -----------------------------------------------------------------
    def check_jwt(self, token: str | None) -> Reply | None:
        """None when `token` is a valid JWT of this app, else the 401 GitHub sends."""
        if not token or token.count(".") != 2:
            return _unauthorized("A JSON web token could not be decoded")
        with self._lock:
            self.seen_jwts.add(token)
        now = self.clock()
        try:
            claims = jwt.decode(token, self._public_key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"],
                                         "verify_iat": False})
        except jwt.ExpiredSignatureError:
            return self._refused("'Expiration time' claim ('exp') must be a numeric value "
                                 "representing the future time at which the assertion "
                                 "expires")
        except jwt.PyJWTError:
            return self._refused("A JSON web token could not be decoded")
        if claims["exp"] > now + JWT_MAX_AHEAD_S:
            return self._refused("'Expiration time' claim ('exp') is too far in the future")
        if claims["iat"] > now + 1:
            return self._refused("'Issued at' claim ('iat') must be an Integer representing "
                                 "the time that the assertion was issued")
        if str(claims["iss"]) not in (str(self.app_id), self.client_id):
            return self._refused("Integration not found")
        with self._lock:
            self.jwts.append(claims)
        return None

    def _refused(self, message: str) -> Reply:
        with self._lock:
            self.refused_jwts += 1
        return _unauthorized(message)

    def installation_of(self, token: str | None) -> int | None:
        """The installation an unexpired installation token belongs to (None: not one)."""
        with self._lock:
            issued = self.tokens.get(token or "")
            if issued is None:
                return None
            issued.uses += 1
            if self.clock() >= issued.expires_at or (
                    self.expire_after_uses is not None
                    and issued.uses > self.expire_after_uses):
                return -1
            return issued.installation

    def first_use(self, installation: int) -> None:
        """Called by the server before an installation's data request is served."""
        with self._lock:
            hold = self.exhaust_at_first_use.pop(installation, None)
        if hold is not None:
            self.quotas[installation].set(remaining=0, reset_in=hold)

    def is_installation_token(self, token: str | None) -> bool:
        with self._lock:
            return bool(token) and token in self.tokens

    # -- endpoints (JWT) ---------------------------------------------------------------
    def handles(self, path: str) -> bool:
        p = path.rstrip("/")
        return p == "/app" or p.startswith("/app/") or p.endswith("/installation")

    def respond(self, method: str, path: str, query_string: str, token: str | None,
                dataset: Dataset, base_url: str) -> Reply:
        refused = self.check_jwt(token)
        if refused is not None:
            return refused
        p = path.rstrip("/")
        parts = p.strip("/").split("/")
        if method == "POST" and len(parts) == 4 and parts[:2] == ["app", "installations"] \
                and parts[3] == "access_tokens" and parts[2].isdigit():
            return self._mint(int(parts[2]))
        if method != "GET":
            return Reply(404, error_body("Not Found", 404))
        if p == "/app":
            return Reply(200, self._app_body(dataset))
        if p == "/app/installations":
            rows = [self._installation(login, i, dataset)
                    for login, i in sorted(self.installations.items(), key=lambda x: x[1])]
            params = Params(parse_qsl(query_string, keep_blank_values=True))
            chunk, link = query.paginate(rows, params, base_url, "/app/installations")
            return Reply(200, chunk, {"link": link} if link else {})
        if len(parts) == 3 and parts[:2] == ["app", "installations"] and parts[2].isdigit():
            for login, i in self.installations.items():
                if i == int(parts[2]):
                    return Reply(200, self._installation(login, i, dataset))
            return Reply(404, error_body("Not Found", 404, DOC_APPS))
        owner = None
        if len(parts) == 3 and parts[0] in ("orgs", "users") and parts[2] == "installation":
            owner = parts[1]
        elif len(parts) == 4 and parts[0] == "repos" and parts[3] == "installation":
            if f"{parts[1]}/{parts[2]}".lower() not in {n.lower() for n in dataset.repos}:
                return Reply(404, error_body("Not Found", 404, DOC_APPS))
            owner = parts[1]
        if owner is not None and owner.lower() in self.installations:
            return Reply(200, self._installation(owner.lower(),
                                                 self.installations[owner.lower()], dataset))
        return Reply(404, error_body("Not Found", 404, DOC_APPS))

    def _mint(self, installation: int) -> Reply:
        if installation not in self.quotas:
            return Reply(404, error_body("Not Found", 404, DOC_APPS))
        token = "ghs_" + secrets.token_urlsafe(27).replace("-", "x").replace("_", "y")[:36]
        now = self.clock()
        expires = now + self.token_lifetime_s
        with self._lock:
            self.tokens[token] = Issued(installation, expires)
            self.minted.append((installation, now))
        return Reply(201, {"token": token, "expires_at": iso_seconds(expires),
                           "permissions": dict(PERMISSIONS),
                           "repository_selection": "all"})

    def _app_body(self, dataset: Dataset) -> dict[str, Any]:
        owner = next(iter(self.installations), "octo-org")
        return {"id": self.app_id, "slug": self.slug, "client_id": self.client_id,
                "node_id": f"A_kwSim{self.app_id}", "name": "dihub sync (simulated)",
                "owner": dataset.users.org(owner), "description": "",
                "external_url": "https://example.com", "html_url":
                f"https://github.com/apps/{self.slug}", "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z", "permissions": dict(PERMISSIONS),
                "events": [], "installations_count": len(self.installations)}

    def _installation(self, login: str, installation: int, dataset: Dataset) -> dict[str, Any]:
        account = dataset.users.org(_canonical(login, dataset))
        return {"id": installation, "account": account, "app_id": self.app_id,
                "app_slug": self.slug, "client_id": self.client_id,
                "target_id": account["id"], "target_type": account.get("type", "Organization"),
                "repository_selection": "all",
                "access_tokens_url": f"{API}/app/installations/{installation}/access_tokens",
                "repositories_url": f"{API}/installation/repositories",
                "html_url": f"https://github.com/organizations/{account['login']}/settings/"
                            f"installations/{installation}",
                "permissions": dict(PERMISSIONS), "events": [],
                "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
                "single_file_name": None, "has_multiple_single_files": False,
                "single_file_paths": [], "suspended_by": None, "suspended_at": None}


def owner_of(path: str, dataset: Dataset) -> str | None:
    """The account whose data a path reads (None: not an account's, e.g. /user)."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] in ("repos", "orgs"):
        return parts[1]
    if len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
        repo = dataset.repo_by_id(int(parts[1]))
        return repo.owner_login if repo is not None else None
    if len(parts) >= 2 and parts[0] == "organizations" and parts[1].isdigit():
        for login, org in dataset.users.orgs.items():
            if org["id"] == int(parts[1]):
                return login
    return None


def _canonical(login: str, dataset: Dataset) -> str:
    for name in dataset.repos:
        if name.split("/", 1)[0].lower() == login:
            return name.split("/", 1)[0]
    return login


def _unauthorized(message: str) -> Reply:
    return Reply(401, error_body(message, 401, DOC_APPS))


def iso_seconds(epoch: float) -> str:
    from datetime import UTC, datetime
    return iso(datetime.fromtimestamp(epoch, UTC))


def generate_keys(bits: int = 2048) -> tuple[str, bytes]:
    """A fresh RSA key pair for a test's app: (private PEM text, public PEM bytes).
    Generated at test time: no private key is ever kept in the repository."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public
