"""What the OAuth 2.0 device authorization grant (RFC 8628) logins of connectors share:
the form POST, the polling loop, the messages, and the HTTP client a login uses.

A connector's login starts the flow at its own endpoint, then `poll_token` polls its
token endpoint no faster than `interval` until an access token comes back:
`authorization_pending` polls again, `slow_down` adds 5 seconds (or takes the
`interval` the answer carries), `expired_token` (or the flow's `expires_in` passing)
is an AuthError saying to log in again, and any other error goes to the connector's
`oauth_error`. Tokens never appear in an exception.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from dihub.errors import AuthError, TemporaryError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5                      # seconds added to the interval on slow_down


def poll_token(http: httpx.Client, url: str, form: dict[str, str], *, interval: int,
               deadline: float, sleep: Callable[[float], None], clock: Callable[[], float],
               source: str, oauth_error: Callable[[dict[str, Any], str], AuthError],
               hint: str) -> dict[str, Any]:
    """Poll `url` with `form` until it answers an access token; returns that answer."""
    while True:
        sleep(interval)
        if clock() >= deadline:
            raise expired(source)
        body = post_form(http, url, form, hint=hint)
        if body.get("access_token"):
            return body
        error = body.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval = positive(body.get("interval"), interval + SLOW_DOWN_STEP)
            continue
        if error in ("expired_token", "token_expired"):
            raise expired(source)
        raise oauth_error(body, source)


@contextmanager
def open_client(http: httpx.Client | None, timeout: float) -> Iterator[httpx.Client]:
    """Use the caller's client as is, or open (and close) one that follows no redirect:
    a token checked against a host goes to that host and no other."""
    if http is not None:
        yield http
        return
    with httpx.Client(timeout=timeout, headers={"User-Agent": "dihub"},
                      follow_redirects=False) as own:
        yield own


def post_form(http: httpx.Client, url: str, form: dict[str, str], *, hint: str
              ) -> dict[str, Any]:
    """POST a form, expecting JSON: the body, which may carry an OAuth `error`. A host that
    cannot be reached is a TemporaryError; an answer that is not OAuth JSON an AuthError
    with `hint`."""
    try:
        resp = http.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise TemporaryError(f"could not reach {url} ({type(exc).__name__})",
                             hint="Check the network and the source's `base_url`.") from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or (resp.status_code != 200 and not body.get("error")):
        raise AuthError(f"unexpected answer from {url} (HTTP {resp.status_code})", hint=hint)
    return body


def expired(source: str) -> AuthError:
    return AuthError("the code expired before it was entered (expired_token)",
                     hint=f"Run `dihub auth {source}` again and enter the new code before it "
                          "expires.")


def denied(source: str) -> AuthError:
    return AuthError("authorization was denied in the browser (access_denied)",
                     hint=f"Run `dihub auth {source}` again and approve the request, or "
                          f"pipe a token with `dihub auth {source} --with-token`.")


def positive(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def print_code(user_code: str, verification_uri: str) -> None:
    print(f"First copy your one-time code: {user_code}\n"
          f"Then open {verification_uri} in a browser and paste it.", file=sys.stderr)


def stored_token(result: dict[str, Any], source: str, token_name: str, *, host: str,
                 token_env: str | None) -> str | None:
    """The first step of a `Login.status`: the token from the environment, keyring or file,
    without contacting anyone. Sets `result["via"]` and `state` "present" when found, or
    `result["error"]` (none stored; stored for another host; a locked keyring) and
    returns None."""
    from dihub import secrets

    try:
        found = secrets.get_secret(source, token_name, host=host, env_var=token_env)
    except AuthError as exc:            # stored for another host, or locked keyring
        result["error"] = str(exc)
        return None
    if found is None:
        result["error"] = "no token stored"
        return None
    token, result["via"] = found
    result["state"] = "present"
    return token


def token_status(result: dict[str, Any], source: str, token_name: str, *, host: str,
                 token_env: str | None, check: bool, http: httpx.Client | None,
                 timeout_s: float, whoami: Callable[[httpx.Client, str], dict[str, Any]],
                 rejected: tuple[int, ...] = (401,)) -> dict[str, Any]:
    """`Login.status` for a bearer token: fills `result` (source, api, host, ...) with
    where the token comes from (`via`: env, keyring, file) without contacting anyone;
    with `check`, `whoami(client, token)` (one request within `timeout_s`) says whose it
    is: {"user": ..., "scopes": ...}. `state`: missing, present (not checked), ok,
    rejected (an AuthError with a status in `rejected`), unreachable, or error. Never
    the token."""
    token = stored_token(result, source, token_name, host=host, token_env=token_env)
    if token is None or not check:
        return result
    try:
        with open_client(http, timeout_s) as client:
            user = whoami(client, token)
    except TemporaryError as exc:
        result.update(state="unreachable", error=str(exc))
        return result
    except AuthError as exc:
        code = getattr(exc, "status", None) or 0
        state = "rejected" if code in rejected else "unreachable" if code >= 500 else "error"
        result.update(state=state, error=str(exc), http_status=code or None)
        return result
    result.update(logged_in=True, user=user["user"], scopes=user["scopes"], state="ok")
    return result


def piped_token(with_token: str, source: str) -> str:
    """The token given on stdin (`dihub auth SOURCE --with-token`), stripped; an
    AuthError saying how to pipe one when it is empty."""
    token = with_token.strip()
    if not token:
        raise AuthError("no token given on stdin",
                        hint=f"Pipe one in: `echo $TOKEN | dihub auth {source} --with-token`.")
    return token


def scope_string(scopes: str | list[str] | None, default: str) -> str:
    """The `scope` of a device-flow request: the config's `scopes` (a string or a list),
    else `default`."""
    if not scopes:
        return default
    return scopes if isinstance(scopes, str) else " ".join(scopes)
