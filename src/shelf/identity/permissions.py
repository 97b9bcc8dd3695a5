"""Who may do what, declared once. Services check permissions; nothing checks role names."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from shelf.platform.errors import Forbidden, Unauthenticated


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"
    CLIENT = "client"  # public project key for browsers and apps (API keys only)


USER_ROLES = (Role.ADMIN, Role.EDITOR, Role.VIEWER)


class Permission(enum.StrEnum):
    CATALOG_READ_ALL = "catalog:read_all"  # drafts and archived products too
    CATALOG_WRITE = "catalog:write"
    USERS_MANAGE = "users:manage"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_READ = "audit:read"
    METRICS_READ = "metrics:read"  # /metrics and the console's System page (admins)
    EVENTS_CAPTURE = "events:capture"  # send analytics events (PostHog SDKs, the tracker, /api/v1/events)
    ANALYTICS_READ = "analytics:read"  # trends, funnels, retention, top products
    # Feedback (feedback/, ADR 0016). Anyone may send feedback: storefront visitors with the page's
    # form token (no role), apps with a client key, and staff. Emails are personal data: admins only.
    FEEDBACK_SUBMIT = "feedback:submit"
    FEEDBACK_READ = "feedback:read"  # the inbox, summaries (without emails)
    FEEDBACK_TRIAGE = "feedback:triage"  # status and note
    FEEDBACK_READ_PERSONAL = "feedback:read_personal"  # the email a submitter left
    # Feature flags (flags/, ADR 0014): staff read definitions, editors change them, and anyone
    # with a key (client keys included) evaluates them over OFREP.
    FLAGS_READ = "flags:read"
    FLAGS_WRITE = "flags:write"
    FLAGS_EVALUATE = "flags:evaluate"
    # Experiments (experiments/, ADR 0015): viewers read results, editors define, start and stop.
    EXPERIMENTS_READ = "experiments:read"
    EXPERIMENTS_WRITE = "experiments:write"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset({Permission.CATALOG_READ_ALL, Permission.CATALOG_WRITE, Permission.ANALYTICS_READ})
    | {Permission.FEEDBACK_SUBMIT, Permission.FEEDBACK_READ, Permission.FEEDBACK_TRIAGE}
    | {Permission.FLAGS_READ, Permission.FLAGS_WRITE, Permission.FLAGS_EVALUATE}
    | {Permission.EXPERIMENTS_READ, Permission.EXPERIMENTS_WRITE},
    Role.VIEWER: frozenset({Permission.CATALOG_READ_ALL, Permission.ANALYTICS_READ})
    | {Permission.FEEDBACK_SUBMIT, Permission.FEEDBACK_READ}
    | {Permission.FLAGS_READ, Permission.FLAGS_EVALUATE}
    | {Permission.EXPERIMENTS_READ},
    Role.CLIENT: frozenset({Permission.EVENTS_CAPTURE, Permission.FEEDBACK_SUBMIT})
    | {Permission.FLAGS_EVALUATE},
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, resolved once per request by the gateway."""

    kind: str  # "anonymous", "api_key" or "user"
    id: uuid.UUID | None = None
    role: Role | None = None
    name: str = "anonymous"
    # The sign-in a JWT belongs to (its login family); logout ends it.
    login_family_id: uuid.UUID | None = None
    # Set when the caller authenticated with a console session cookie: state-changing requests
    # must then prove they come from Shelf's own pages with this CSRF token.
    console_session_id: uuid.UUID | None = None
    csrf_token: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    @property
    def scope(self) -> str:
        """A stable string naming this caller, for keys such as idempotency records."""
        return f"{self.kind}:{self.id}"

    def can(self, permission: Permission) -> bool:
        return self.role is not None and permission in ROLE_PERMISSIONS[self.role]

    def require_authenticated(self) -> None:
        if self.is_anonymous:
            raise Unauthenticated("this action needs credentials: send 'Authorization: Bearer <key>'")

    def require(self, permission: Permission) -> None:
        if self.can(permission):
            return
        self.require_authenticated()
        raise Forbidden(f"the role '{self.role}' may not perform '{permission}'")


ANONYMOUS = Principal(kind="anonymous")
