"""Storage of users, API keys, login families, refresh tokens and console sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.identity.models import ApiKey, ConsoleSession, LoginFamily, RefreshToken, User


class UserRepository(Protocol):
    async def get(self, user_id: uuid.UUID) -> User | None: ...
    async def get_by_email(self, email_normalized: str) -> User | None: ...
    async def list(self) -> list[User]: ...
    async def count_active_admins(self) -> int: ...
    async def lock_active_admins(self) -> None: ...
    def add(self, user: User) -> None: ...


class ApiKeyRepository(Protocol):
    async def get(self, key_id: uuid.UUID) -> ApiKey | None: ...
    async def get_by_hash(self, secret_hash: str) -> ApiKey | None: ...
    async def list(self) -> list[ApiKey]: ...
    def add(self, key: ApiKey) -> None: ...


class LoginRepository(Protocol):
    async def family(self, family_id: uuid.UUID) -> LoginFamily | None: ...
    async def refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    async def spend_refresh_token(self, token_id: uuid.UUID, now: datetime) -> bool: ...
    async def revoke_family(self, family_id: uuid.UUID, now: datetime, reason: str) -> None: ...
    async def session_by_id(self, session_id: uuid.UUID) -> ConsoleSession | None: ...
    async def revoke_user_families(self, user_id: uuid.UUID, now: datetime, reason: str) -> None: ...
    async def session(self, token_hash: str) -> ConsoleSession | None: ...
    async def revoke_user_sessions(self, user_id: uuid.UUID, now: datetime) -> None: ...
    def add(self, row: LoginFamily | RefreshToken | ConsoleSession) -> None: ...


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self._session.get(User, user_id)

    async def get_by_email(self, email_normalized: str) -> User | None:
        return await self._session.scalar(select(User).where(User.email_normalized == email_normalized))

    async def list(self) -> list[User]:
        return list(await self._session.scalars(select(User).order_by(User.email_normalized)))

    async def count_active_admins(self) -> int:
        query = select(func.count()).where(User.role == "admin", User.disabled.is_(False))
        return int(await self._session.scalar(query) or 0)

    async def lock_active_admins(self) -> None:
        """Lock the rows of every active admin until the transaction ends (PostgreSQL), so two
        concurrent demotions cannot both see another admin left. Ordered, so they cannot deadlock;
        SQLite has a single writer and needs no row locks."""
        query = (
            select(User.id)
            .where(User.role == "admin", User.disabled.is_(False))
            .order_by(User.id)
            .with_for_update()
        )
        await self._session.execute(query)

    def add(self, user: User) -> None:
        self._session.add(user)


class SqlApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self._session.get(ApiKey, key_id)

    async def get_by_hash(self, secret_hash: str) -> ApiKey | None:
        return await self._session.scalar(select(ApiKey).where(ApiKey.secret_hash == secret_hash))

    async def list(self) -> list[ApiKey]:
        return list(await self._session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))

    def add(self, key: ApiKey) -> None:
        self._session.add(key)


class SqlLoginRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def family(self, family_id: uuid.UUID) -> LoginFamily | None:
        return await self._session.get(LoginFamily, family_id)

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        return await self._session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))

    async def spend_refresh_token(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Mark a refresh token used, atomically: of concurrent attempts, exactly one wins."""
        result = await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        spent: int = result.rowcount  # type: ignore[attr-defined]  # UPDATE results have rowcount
        return spent == 1

    async def session_by_id(self, session_id: uuid.UUID) -> ConsoleSession | None:
        return await self._session.get(ConsoleSession, session_id)

    async def revoke_family(self, family_id: uuid.UUID, now: datetime, reason: str) -> None:
        await self._session.execute(
            update(LoginFamily)
            .where(LoginFamily.id == family_id, LoginFamily.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )

    async def revoke_user_families(self, user_id: uuid.UUID, now: datetime, reason: str) -> None:
        await self._session.execute(
            update(LoginFamily)
            .where(LoginFamily.user_id == user_id, LoginFamily.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )

    async def session(self, token_hash: str) -> ConsoleSession | None:
        return await self._session.scalar(
            select(ConsoleSession).where(ConsoleSession.token_hash == token_hash)
        )

    async def revoke_user_sessions(self, user_id: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def add(self, row: LoginFamily | RefreshToken | ConsoleSession) -> None:
        self._session.add(row)
