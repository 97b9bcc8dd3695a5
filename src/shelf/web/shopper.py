"""A shopper's browser state: one signed cookie with a random id and the cart's lines.

Why a cookie and not a server-side session: the storefront is anonymous, and Shelf scales out as
identical stateless instances; a cookie needs no table, no clean-up job and no sticky sessions.
It holds only product ids and quantities (at most ``MAX_LINES`` lines, about 1.3 KB); prices,
names and availability are read from the catalog on every request, so editing the cookie can at
most change which products are in the cart. It is signed with HMAC-SHA256 under a key derived
from ``SHELF_SECRET_KEY``; a tampered, truncated or foreign cookie counts as no cookie.

The random id anchors the storefront's CSRF token (``csrf_token``): a signed double submit. A form
carries ``HMAC(key, id)``; a POST is accepted when it matches the id in the cookie. Another site
can neither read the token nor mint one, and cannot plant a cookie it could compute a token for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from shelf.cart.schemas import MAX_LINES, MAX_QUANTITY, CartLine

COOKIE = "shelf_cart"
MAX_AGE_SECONDS = 30 * 24 * 3600
_FORMAT = 1
_ID_BYTES = 16
_LINE_BYTES = 17  # a UUID and a one-byte quantity


@dataclass(frozen=True, slots=True)
class Shopper:
    id: bytes
    lines: tuple[CartLine, ...] = ()

    @classmethod
    def new(cls) -> Shopper:
        return cls(secrets.token_bytes(_ID_BYTES))

    def with_lines(self, lines: tuple[CartLine, ...]) -> Shopper:
        return Shopper(self.id, lines)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def distinct_id(self) -> str:
        """This visitor's anonymous analytics and flag-targeting id: stable while the cookie lives.

        Server-side exposures, the first-party tracker and feedback all use it, so one visitor is
        one person in trends, funnels and experiments.
        """
        return f"anon-{self.id.hex()}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ShopperCookies:
    """Encodes, signs and checks the cookie; mints and checks the storefront's CSRF tokens."""

    def __init__(self, secret: str) -> None:
        # A key of its own, so a value signed here means nothing to tokens, sessions or CSRF of the console.
        self._key = hmac.new(secret.encode(), b"shelf storefront cookie v1", hashlib.sha256).digest()

    def _sign(self, data: bytes) -> str:
        return _b64(hmac.new(self._key, data, hashlib.sha256).digest())

    def encode(self, shopper: Shopper) -> str:
        data = bytes([_FORMAT]) + shopper.id
        for line in shopper.lines[:MAX_LINES]:
            data += line.product_id.bytes + bytes([line.quantity])
        return f"{_b64(data)}.{self._sign(data)}"

    def decode(self, raw: str | None) -> Shopper | None:
        if not raw or raw.count(".") != 1 or len(raw) > 4096:
            return None
        body, signature = raw.split(".")
        try:
            data = _unb64(body)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(signature, self._sign(data)):
            return None
        if len(data) < 1 + _ID_BYTES or data[0] != _FORMAT or (len(data) - 1 - _ID_BYTES) % _LINE_BYTES:
            return None
        shopper_id, rest = data[1 : 1 + _ID_BYTES], data[1 + _ID_BYTES :]
        lines = tuple(
            CartLine(uuid.UUID(bytes=rest[i : i + 16]), rest[i + 16])
            for i in range(0, len(rest), _LINE_BYTES)
        )
        if len(lines) > MAX_LINES or any(not 1 <= line.quantity <= MAX_QUANTITY for line in lines):
            return None
        return Shopper(shopper_id, lines)

    def csrf_token(self, shopper: Shopper) -> str:
        return hmac.new(self._key, b"csrf:" + shopper.id, hashlib.sha256).hexdigest()

    def csrf_matches(self, shopper: Shopper, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token(shopper))
