"""API shapes of identity: tokens, users, API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shelf.identity.models import ApiKey, User
from shelf.identity.permissions import Role


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str | None = Field(default=None, min_length=1, max_length=200)


class SessionCreated(BaseModel):
    csrf_token: str
    expires_at: datetime
    user: UserRead


class UserRead(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    disabled: bool
    created_at: datetime

    @classmethod
    def from_user(cls, user: User) -> UserRead:
        return cls(
            id=user.id,
            email=user.email,
            role=Role(user.role),
            disabled=user.disabled,
            created_at=user.created_at,
        )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = Role.VIEWER


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    disabled: bool | None = None


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_key(cls, key: ApiKey) -> ApiKeyRead:
        return cls(
            id=key.id,
            name=key.name,
            role=Role(key.role),
            prefix=key.prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role = Role.CLIENT


class ApiKeyCreated(ApiKeyRead):
    secret: str = Field(description="Shown once, now: only a hash is kept.")


SessionCreated.model_rebuild()
