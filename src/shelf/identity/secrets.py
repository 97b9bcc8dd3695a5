"""Hashing of passwords (argon2id) and API keys (SHA-256 of a 256-bit random secret)."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP ASVS 5.0 / OWASP cheat sheet minimum for argon2id: m=19 MiB, t=2, p=1.
_password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

API_KEY_PREFIX = "shelf_"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValueError(f"passwords are {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")
    if password.lower() in _common_passwords():
        raise ValueError("this password is on the list of the most common passwords; choose another")


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords, as bundled with Dropbox's zxcvbn (loaded on first use)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: PLC0415 - large; load only when needed

    return frozenset(FREQUENCY_LISTS["passwords"])


def new_api_key() -> tuple[str, str, str]:
    """A fresh key as (the secret shown once, its display prefix, its stored hash).

    The secret has 256 bits of entropy, so a fast hash is safe: no dictionary can reach it.
    """
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[: len(API_KEY_PREFIX) + 6], hash_api_key(secret)


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
