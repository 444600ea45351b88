"""Signed, expiring tokens for the manage-subscriptions link of outgoing emails (R52)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from uuid import UUID

from lifecycle.errors import NotPermitted

LINK_LIFETIME = timedelta(days=30)


class InvalidLink(NotPermitted):
    slug = "invalid-link"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """HMAC-SHA256 over the account id and the expiry instant."""

    def __init__(self, secret: bytes, lifetime: timedelta = LINK_LIFETIME) -> None:
        if len(secret) < 16:
            raise ValueError("the link secret must be at least 16 bytes")
        self._secret = secret
        self._lifetime = lifetime

    def issue(self, account_id: UUID, now: datetime) -> str:
        expires = int((now + self._lifetime).timestamp())
        payload = _b64(json.dumps({"a": str(account_id), "e": expires}).encode())
        return f"{payload}.{self._sign(payload)}"

    def account_for(self, token: str, now: datetime) -> UUID:
        payload, _, signature = token.partition(".")
        # Compared as bytes: ``compare_digest`` refuses str holding non-ASCII characters.
        offered = signature.encode("utf-8", "surrogatepass")
        if not payload or not hmac.compare_digest(offered, self._sign(payload).encode()):
            raise InvalidLink("the link's signature does not match")
        try:
            claims = json.loads(_unb64(payload))
            account_id = UUID(claims["a"])
            expires = int(claims["e"])
        except (ValueError, KeyError, TypeError):
            raise InvalidLink("the link is malformed") from None
        if now.timestamp() >= expires:
            raise InvalidLink("the link has expired")
        return account_id

    def _sign(self, payload: str) -> str:
        message = payload.encode("utf-8", "surrogatepass")
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())
