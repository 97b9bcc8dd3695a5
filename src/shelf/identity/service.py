"""Identity use cases: users, API keys, sign-in with rotating refresh tokens, console sessions.

Every change is audited in the same transaction as the change itself.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy.exc import IntegrityError

from shelf.audit.service import record
from shelf.identity.models import ApiKey, ConsoleSession, LoginFamily, RefreshToken, User
from shelf.identity.permissions import USER_ROLES, Permission, Principal, Role
from shelf.identity.schemas import ApiKeyCreate, ApiKeyRead, TokenPair, UserCreate, UserRead, UserUpdate
from shelf.identity.secrets import (
    check_password_rules,
    hash_api_key,
    hash_password,
    new_api_key,
    verify_password,
)
from shelf.identity.throttle import LoginThrottle
from shelf.identity.tokens import AccessTokens, csrf_token_for, hash_token, new_opaque_token
from shelf.platform.clock import Clock
from shelf.platform.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from shelf.platform.ids import new_id
from shelf.uow import UnitOfWork, UnitOfWorkFactory

# Recording every use would turn each read into a write; once a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
CLI = Principal(kind="cli", name="shelf command line")
_WRONG_CREDENTIALS = "the email or password is wrong, or the account is disabled"


@cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so both failures take the same time (no enumeration)."""
    return hash_password("not-a-real-password-just-for-timing")


async def _hash(password: str) -> str:
    # argon2id takes tens of milliseconds of CPU by design: run it in a worker thread (the C code
    # releases the GIL) so the event loop keeps serving other requests meanwhile.
    return await asyncio.to_thread(hash_password, password)


async def _verify(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    secret: str  # shown to the creator once, never stored


@dataclass(frozen=True)
class StartedSession:
    cookie: str  # the cookie value; only its hash is stored
    session: ConsoleSession
    user: User
    csrf_token: str


class LastAdminError(Conflict):
    def __init__(self) -> None:
        super().__init__("this would leave Shelf without an active admin; promote another user first")


class IdentityService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        access_tokens: AccessTokens,
        *,
        throttle: LoginThrottle,
        secret: str,
        refresh_ttl: timedelta,
        session_ttl: timedelta,
    ) -> None:
        self._throttle = throttle
        self._uow = uow
        self._clock = clock
        self._access = access_tokens
        self._secret = secret
        self._refresh_ttl = refresh_ttl
        self._session_ttl = session_ttl

    # Users ------------------------------------------------------------------------------------

    async def create_user(self, email: str, password: str, role: Role, *, actor: Principal = CLI) -> User:
        if actor is not CLI:
            actor.require(Permission.USERS_MANAGE)
        if role not in USER_ROLES:
            raise InvalidInput(f"users have the role admin, editor or viewer, not {role}")
        normalized = email.strip().lower()
        local, _, domain = normalized.partition("@")
        if not local or "." not in domain or len(normalized) > 320 or any(c.isspace() for c in normalized):
            raise InvalidInput(
                f"'{email}' is not an email address", [{"field": "email", "message": "not an email address"}]
            )
        try:
            check_password_rules(password)
        except ValueError as error:
            raise InvalidInput(str(error), [{"field": "password", "message": str(error)}]) from None
        password_hash = await _hash(password)
        async with self._uow() as uow:
            if await uow.users.get_by_email(normalized) is not None:
                raise Conflict(f"a user with the email {normalized} already exists")
            user = User(
                id=new_id(),
                email=email.strip(),
                email_normalized=normalized,
                password_hash=password_hash,
                role=role.value,
                disabled=False,
                created_at=self._clock.now(),
            )
            uow.users.add(user)
            record(
                uow.audit, self._clock, actor, "user.create", entity=("user", user.id), after=_user_json(user)
            )
            try:
                await uow.commit()
            except IntegrityError:  # lost a race with another request for the same email
                raise Conflict(f"a user with the email {normalized} already exists") from None
            return user

    async def register_user(self, actor: Principal, payload: Any) -> User:
        """``POST /users``: the permission is checked before the body is even looked at."""
        actor.require(Permission.USERS_MANAGE)
        body = UserCreate.model_validate(payload)
        return await self.create_user(body.email, body.password, body.role, actor=actor)

    async def list_users(self, principal: Principal) -> list[User]:
        principal.require(Permission.USERS_MANAGE)
        async with self._uow() as uow:
            return await uow.users.list()

    async def update_user(self, principal: Principal, user_id: uuid.UUID, patch: Any) -> User:
        principal.require(Permission.USERS_MANAGE)
        changes = UserUpdate.model_validate(patch)
        if changes.role is not None and changes.role not in USER_ROLES:
            raise InvalidInput("users have the role admin, editor or viewer")
        async with self._uow() as uow:
            if changes.disabled or changes.role not in (None, Role.ADMIN):
                # Could remove an admin: hold every admin row first, so a concurrent demotion
                # waits and then counts what this one left.
                await uow.users.lock_active_admins()
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound("no user with this id")
            before = _user_json(user)
            was_active_admin = user.role == Role.ADMIN and not user.disabled
            if changes.role is not None:
                user.role = changes.role.value
            if changes.disabled is not None:
                user.disabled = changes.disabled
            demoted = was_active_admin and (user.role != Role.ADMIN or user.disabled)
            # The count sees this change: the session flushes before it queries.
            if demoted and await uow.users.count_active_admins() == 0:
                raise LastAdminError
            if user.disabled or user.role != before["role"]:
                # Tokens carry the role: sign the user out everywhere so no old grant survives.
                now = self._clock.now()
                await uow.logins.revoke_user_families(user.id, now, "user_changed")
                await uow.logins.revoke_user_sessions(user.id, now)
            record(
                uow.audit,
                self._clock,
                principal,
                "user.update",
                entity=("user", user.id),
                before=before,
                after=_user_json(user),
            )
            await uow.commit()
            return user

    # API keys ---------------------------------------------------------------------------------

    async def issue_api_key(self, actor: Principal, payload: Any) -> IssuedApiKey:
        """``POST /apikeys``: the permission is checked before the body is even looked at."""
        actor.require(Permission.API_KEYS_MANAGE)
        body = ApiKeyCreate.model_validate(payload)
        return await self.create_api_key(body.name, body.role, actor=actor)

    async def create_api_key(self, name: str, role: Role, *, actor: Principal = CLI) -> IssuedApiKey:
        if actor is not CLI:
            actor.require(Permission.API_KEYS_MANAGE)
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInput("an API key name is 1 to 100 characters")
        secret, prefix, secret_hash = new_api_key()
        async with self._uow() as uow:
            key = ApiKey(
                id=new_id(),
                name=name,
                role=role.value,
                prefix=prefix,
                secret_hash=secret_hash,
                created_at=self._clock.now(),
                last_used_at=None,
                revoked_at=None,
            )
            uow.api_keys.add(key)
            record(
                uow.audit,
                self._clock,
                actor,
                "api_key.create",
                entity=("api_key", key.id),
                after=_key_json(key),
            )
            await uow.commit()
            return IssuedApiKey(key=key, secret=secret)

    async def list_api_keys(self, principal: Principal) -> list[ApiKey]:
        principal.require(Permission.API_KEYS_MANAGE)
        async with self._uow() as uow:
            return await uow.api_keys.list()

    async def revoke_api_key(self, principal: Principal, key_id: uuid.UUID) -> ApiKey:
        principal.require(Permission.API_KEYS_MANAGE)
        async with self._uow() as uow:
            key = await uow.api_keys.get(key_id)
            if key is None:
                raise NotFound("no API key with this id")
            if key.revoked_at is None:
                before = _key_json(key)
                key.revoked_at = self._clock.now()
                record(
                    uow.audit,
                    self._clock,
                    principal,
                    "api_key.revoke",
                    entity=("api_key", key.id),
                    before=before,
                    after=_key_json(key),
                )
                await uow.commit()
            return key

    async def authenticate_api_key(self, secret: str) -> Principal:
        async with self._uow() as uow:
            key = await uow.api_keys.get_by_hash(hash_api_key(secret))
            if key is None or key.revoked_at is not None:
                raise Unauthenticated("the API key is not valid")
            now = self._clock.now()
            if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
                key.last_used_at = now
                await uow.commit()
            return Principal(kind="api_key", id=key.id, role=Role(key.role), name=key.name)

    # Sign-in with tokens ----------------------------------------------------------------------

    async def login(self, email: str, password: str, *, client_ip: str) -> TokenPair:
        async with self._uow() as uow:
            user = await self._check_password(uow, email, password, client_ip)
            now = self._clock.now()
            family = LoginFamily(id=new_id(), user_id=user.id, created_at=now, revoked_at=None)
            uow.logins.add(family)
            pair = self._issue_pair(uow, user, family, now)
            await uow.commit()
            return pair

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Single use: a spent token presented again means it was stolen, so the whole login ends."""
        async with self._uow() as uow:
            token = await uow.logins.refresh_token(hash_token(refresh_token))
            if token is None:
                raise Unauthenticated("the refresh token is not valid")
            family = await uow.logins.family(token.family_id)
            now = self._clock.now()
            if family is None or family.revoked_at is not None:
                raise Unauthenticated("this sign-in has ended; sign in again")
            if token.expires_at <= now:
                raise Unauthenticated("the refresh token has expired; sign in again")
            user = await uow.users.get(family.user_id)
            if user is None or user.disabled:
                raise Unauthenticated(_WRONG_CREDENTIALS)
            # Spent atomically: of two requests with the same token, even at the same instant,
            # one wins and the other counts as reuse.
            if token.used_at is not None or not await uow.logins.spend_refresh_token(token.id, now):
                await uow.logins.revoke_family(token.family_id, now, "refresh_token_reuse")
                await uow.commit()
                raise Unauthenticated(
                    "this refresh token was already used; every token of this sign-in is revoked"
                )
            pair = self._issue_pair(uow, user, family, now)
            await uow.commit()
            return pair

    async def logout(self, principal: Principal, refresh_token: str | None) -> None:
        """End one sign-in: that of the given refresh token, or the caller's own (access token or
        console session)."""
        async with self._uow() as uow:
            now = self._clock.now()
            family_id = principal.login_family_id
            if refresh_token is not None:
                token = await uow.logins.refresh_token(hash_token(refresh_token))
                if token is None:
                    raise Unauthenticated("the refresh token is not valid")
                family_id = token.family_id
            if family_id is not None:
                await uow.logins.revoke_family(family_id, now, "logout")
            elif principal.console_session_id is not None:
                session = await uow.logins.session_by_id(principal.console_session_id)
                if session is not None and session.revoked_at is None:
                    session.revoked_at = now
            else:
                raise Unauthenticated("send the refresh token, or an access token, of the sign-in to end")
            await uow.commit()

    async def authenticate_access_token(self, token: str) -> Principal:
        claims = self._access.verify(token)
        async with self._uow() as uow:
            family = await uow.logins.family(claims.family_id)
            if family is None or family.revoked_at is not None or family.user_id != claims.user_id:
                raise Unauthenticated("this sign-in has ended; sign in again")
            user = await uow.users.get(claims.user_id)
            if user is None or user.disabled or user.role != claims.role:
                raise Unauthenticated("the account changed since this token was issued; sign in again")
            return Principal(
                kind="user", id=user.id, role=claims.role, name=user.email, login_family_id=family.id
            )

    # Console sessions -------------------------------------------------------------------------

    async def start_session(self, email: str, password: str, *, client_ip: str) -> StartedSession:
        async with self._uow() as uow:
            user = await self._check_password(uow, email, password, client_ip)
            cookie, cookie_hash = new_opaque_token()
            now = self._clock.now()
            session = ConsoleSession(
                id=new_id(),
                user_id=user.id,
                token_hash=cookie_hash,
                created_at=now,
                expires_at=now + self._session_ttl,
                revoked_at=None,
            )
            uow.logins.add(session)
            await uow.commit()
            return StartedSession(cookie, session, user, csrf_token_for(self._secret, session.id))

    async def authenticate_session(self, cookie: str) -> Principal | None:
        """The principal of a console session cookie, or ``None`` when it is stale or unknown."""
        async with self._uow() as uow:
            session = await uow.logins.session(hash_token(cookie))
            if session is None or session.revoked_at is not None or session.expires_at <= self._clock.now():
                return None
            user = await uow.users.get(session.user_id)
            if user is None or user.disabled:
                return None
            return Principal(
                kind="user",
                id=user.id,
                role=Role(user.role),
                name=user.email,
                console_session_id=session.id,
                csrf_token=csrf_token_for(self._secret, session.id),
            )

    async def end_session(self, cookie: str) -> None:
        async with self._uow() as uow:
            session = await uow.logins.session(hash_token(cookie))
            if session is not None and session.revoked_at is None:
                session.revoked_at = self._clock.now()
                await uow.commit()

    # Helpers ----------------------------------------------------------------------------------

    async def _check_password(self, uow: UnitOfWork, email: str, password: str, client_ip: str) -> User:
        await self._throttle.check(email, client_ip)
        user = await uow.users.get_by_email(email.strip().lower())
        if user is None:
            await _verify(_dummy_hash(), password)
        elif await _verify(user.password_hash, password) and not user.disabled:
            await self._throttle.succeeded(email)
            return user
        await self._throttle.failed(email, client_ip)
        raise Unauthenticated(_WRONG_CREDENTIALS)

    def _issue_pair(self, uow: UnitOfWork, user: User, family: LoginFamily, now: datetime) -> TokenPair:
        refresh, refresh_hash = new_opaque_token()
        uow.logins.add(
            RefreshToken(
                id=new_id(),
                family_id=family.id,
                token_hash=refresh_hash,
                issued_at=now,
                expires_at=now + self._refresh_ttl,
                used_at=None,
            )
        )
        return TokenPair(
            access_token=self._access.issue(user.id, Role(user.role), family.id, now),
            expires_in=int(self._access.ttl.total_seconds()),
            refresh_token=refresh,
        )


def _user_json(user: User) -> dict[str, object]:
    return UserRead.from_user(user).model_dump(mode="json")


def _key_json(key: ApiKey) -> dict[str, object]:
    return ApiKeyRead.from_key(key).model_dump(mode="json")
