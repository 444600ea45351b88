"""Bearer tokens with scopes (the contract's Auth convention)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from api.settings import ApiToken

PUBLIC_PREFIXES = ("/v1/email-preferences/", "/problems/", "/docs/assets/")
PUBLIC_PATHS = frozenset(
    {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/problems"}
)


class TokenRegistry:
    def __init__(self, tokens: Sequence[ApiToken]) -> None:
        self._tokens = tuple((_digest(token.secret.encode()), token) for token in tokens)

    def authenticate(self, authorization: str | None) -> ApiToken | None:
        """The token whose secret the header carries. Every configured secret is
        compared, in constant time, as a SHA-256 digest: how long the comparison takes
        depends neither on where the offered secret first differs nor on its length."""
        if not authorization:
            return None
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return None
        offered = _digest(secret.strip().encode())
        found = None
        for digest, token in self._tokens:
            if hmac.compare_digest(offered, digest):
                found = token
        return found


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def scope_for(method: str, path: str) -> str:
    """``audit`` and ``ops`` by prefix; else ``views`` to read and ``commands`` to write."""
    if path.startswith("/v1/audit"):
        return "audit"
    if path.startswith("/v1/ops") or path == "/metrics":
        return "ops"
    return "views" if method in ("GET", "HEAD") else "commands"
