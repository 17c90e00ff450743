"""Token authentication for httpx that never shows the token in a repr."""

from __future__ import annotations

import httpx


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>` (API tokens, bot tokens, personal access tokens)."""

    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(****)"
