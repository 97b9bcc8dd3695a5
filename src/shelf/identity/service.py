"""Identity use cases: creating users and API keys, and resolving credentials to a principal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shelf.identity.models import ApiKey, User
from shelf.identity.permissions import USER_ROLES, Principal, Role
from shelf.identity.secrets import check_password_rules, hash_api_key, hash_password, new_api_key
from shelf.platform.clock import Clock
from shelf.platform.errors import Conflict, InvalidInput, Unauthenticated
from shelf.platform.ids import new_id
from shelf.uow import UnitOfWorkFactory

# Recording every use would turn each read into a write; once a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    secret: str  # shown to the creator once, never stored


class IdentityService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def create_user(self, email: str, password: str, role: Role) -> User:
        if role not in USER_ROLES:
            raise InvalidInput(f"users have the role admin, editor or viewer, not {role}")
        normalized = email.strip().lower()
        if "@" not in normalized.strip("@") or len(normalized) > 320:
            raise InvalidInput(f"'{email}' is not an email address")
        try:
            check_password_rules(password)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        async with self._uow() as uow:
            if await uow.users.get_by_email(normalized) is not None:
                raise Conflict(f"a user with the email {normalized} already exists")
            user = User(
                id=new_id(),
                email=email.strip(),
                email_normalized=normalized,
                password_hash=hash_password(password),
                role=role.value,
                disabled=False,
                created_at=self._clock.now(),
            )
            uow.users.add(user)
            await uow.commit()
            return user

    async def create_api_key(self, name: str, role: Role) -> IssuedApiKey:
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
            await uow.commit()
            return IssuedApiKey(key=key, secret=secret)

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
