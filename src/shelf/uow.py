"""The unit of work: one transaction, with the repositories that work inside it.

Services open one with ``async with uow_factory() as uow`` and call ``await uow.commit()``; leaving
the block without committing rolls everything back, so no write is ever half-applied.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shelf.audit.repository import AuditRepository, SqlAuditRepository
from shelf.catalog.repository import ProductRepository, SqlProductRepository
from shelf.experiments.repository import ExperimentRepository, SqlExperimentRepository
from shelf.feedback.repository import FeedbackRepository, SqlFeedbackRepository
from shelf.flags.repository import FlagRepository, SqlFlagRepository
from shelf.identity.repository import (
    ApiKeyRepository,
    LoginRepository,
    SqlApiKeyRepository,
    SqlLoginRepository,
    SqlUserRepository,
    UserRepository,
)
from shelf.platform.idempotency import IdempotencyRepository, IdempotencyStore
from shelf.transfer.repository import SqlTransferRepository, TransferRepository


class UnitOfWork(Protocol):
    products: ProductRepository
    idempotency: IdempotencyStore
    users: UserRepository
    api_keys: ApiKeyRepository
    logins: LoginRepository
    audit: AuditRepository
    feedback: FeedbackRepository
    flags: FlagRepository
    transfer: TransferRepository  # bulk import (transfer/)
    experiments: ExperimentRepository

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], "UnitOfWork"]


class SqlUnitOfWork:
    session: AsyncSession
    products: ProductRepository
    idempotency: IdempotencyStore
    users: UserRepository
    api_keys: ApiKeyRepository
    logins: LoginRepository
    audit: AuditRepository
    feedback: FeedbackRepository
    flags: FlagRepository
    transfer: TransferRepository
    experiments: ExperimentRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.products = SqlProductRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.users = SqlUserRepository(self.session)
        self.api_keys = SqlApiKeyRepository(self.session)
        self.logins = SqlLoginRepository(self.session)
        self.audit = SqlAuditRepository(self.session)
        self.feedback = SqlFeedbackRepository(self.session)
        self.flags = SqlFlagRepository(self.session)
        self.transfer = SqlTransferRepository(self.session)
        self.experiments = SqlExperimentRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed, and, unlike rollback(), leaves loaded
        # objects readable (detached) for the caller to shape into a response.
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
