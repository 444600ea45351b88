"""Bearer tokens with scopes (the contract's Auth convention)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from api.settings import ApiToken

PUBLIC_PREFIXES = ("/v1/email-preferences/",)
PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class TokenRegistry:
    def __init__(self, tokens: Sequence[ApiToken]) -> None:
        self._tokens = tuple(tokens)

    def authenticate(self, authorization: str | None) -> ApiToken | None:
        """The token whose secret the header carries, compared in constant time."""
        if not authorization:
            return None
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return None
        offered = secret.strip().encode()
        found = None
        for token in self._tokens:
            if hmac.compare_digest(offered, token.secret.encode()):
                found = token
        return found


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def scope_for(method: str, path: str) -> str:
    """``audit`` and ``ops`` by prefix; else ``views`` to read and ``commands`` to write."""
    if path.startswith("/v1/audit"):
        return "audit"
    if path.startswith("/v1/ops"):
        return "ops"
    return "views" if method in ("GET", "HEAD") else "commands"
