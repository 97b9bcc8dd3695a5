"""Access tokens (JWT, HS256 only) and opaque refresh and session tokens.

Decoding accepts exactly one algorithm, so ``alg: none``, RS/HS confusion and any other algorithm
are refused; ``iss``, ``aud``, ``exp``, ``iat``, ``jti``, ``sub``, ``role`` and ``sid`` are required.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from shelf.identity.permissions import Role
from shelf.platform.errors import Unauthenticated

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti", "sub", "role", "sid"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    role: Role
    family_id: uuid.UUID


class AccessTokens:
    def __init__(self, secret: str, *, issuer: str, audience: str, ttl: timedelta) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self.ttl = ttl

    def issue(self, user_id: uuid.UUID, role: Role, family_id: uuid.UUID, now: datetime) -> str:
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
            "jti": uuid.uuid4().hex,
            "sub": str(user_id),
            "role": role.value,
            "sid": str(family_id),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED_CLAIMS},
                leeway=5,
            )
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims["role"]),
                family_id=uuid.UUID(claims["sid"]),
            )
        except (jwt.InvalidTokenError, ValueError, KeyError):
            raise Unauthenticated("the access token is invalid or expired") from None


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


def new_opaque_token() -> tuple[str, str]:
    """A random token (256 bits) and the hash under which it is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(secret: str, session_id: uuid.UUID) -> str:
    """The CSRF token of a console session: derived, so nothing more is stored."""
    return hmac.new(secret.encode(), b"csrf:" + session_id.bytes, hashlib.sha256).hexdigest()
