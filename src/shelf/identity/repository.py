"""Storage of users and API keys."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.identity.models import ApiKey, User


class UserRepository(Protocol):
    async def get_by_email(self, email_normalized: str) -> User | None: ...
    def add(self, user: User) -> None: ...


class ApiKeyRepository(Protocol):
    async def get_by_hash(self, secret_hash: str) -> ApiKey | None: ...
    def add(self, key: ApiKey) -> None: ...


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_by_email(self, email_normalized: str) -> User | None:
        return await self._session.scalar(select(User).where(User.email_normalized == email_normalized))

    def add(self, user: User) -> None:
        self._session.add(user)


class SqlApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_by_hash(self, secret_hash: str) -> ApiKey | None:
        return await self._session.scalar(select(ApiKey).where(ApiKey.secret_hash == secret_hash))

    def add(self, key: ApiKey) -> None:
        self._session.add(key)
