"""The authorization matrix: every route of the app by every kind of caller, the outcome declared once.

The routes come from the app's own route table (``app.routes``), not from this file: a route that
is added without a row in ``ACCESS`` fails the suite, and so does a row whose route is gone.

Each cell is a real request, made with ids that exist, a valid body and the headers the route
needs (``If-Match`` and so on), so that "allow" means a 2xx and a denial can only come from
authorization. A denial must be a problem document with the exact status, and must change nothing
(the audit log, which records every change, stays as it was).

The roles (issue 3): ``viewer`` reads everything, drafts included; ``editor`` also changes the
catalog; ``admin`` also manages users and API keys and reads the audit log; ``client`` (API keys
only) has nothing beyond public reads yet. Users sign in with JWTs or console sessions, so the
staff rows run with an API key, a JWT access token and a session cookie.

The admin console's pages answer an anonymous caller with the login page instead of a 401: their
outcome is ``LOGIN``, a ``303 See Other`` to ``/admin/login`` (with ``next=<path>`` after a GET),
which must change nothing either. A console form post that works answers ``303`` to the page it
leads to (Post/Redirect/Get): its recipe names that page (``Call.done``), and "allow" then means
exactly that redirect.
"""

from __future__ import annotations

import itertools
import re
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from shelf.analytics.api import CAPTURE_PATHS
from shelf.app import Container
from shelf.identity.permissions import Role
from shelf.web.shopper import COOKIE as SHOPPER_COOKIE
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, product_payload
from tests.integration.experiments.helpers import definition as experiment_definition
from tests.integration.experiments.helpers import ensure_dogfood_flag
from tests.security.conftest import PASSWORD, SETUP, audit_count, bearer, routed_pairs, sign_in

OK = "allow"
LOGIN = "login"  # a console page sends the anonymous caller to its login page (303)
Outcome = str | int  # OK, LOGIN, or the status of the denial
ROLES = ("anonymous", "client", "viewer", "editor", "admin")
DENIALS = {401, 403, 404}
HERE = "ACCESS in tests/security/test_authorization_matrix.py"


def row(
    anonymous: Outcome, client: Outcome, viewer: Outcome, editor: Outcome, admin: Outcome
) -> dict[str, Outcome]:
    return dict(zip(ROLES, (anonymous, client, viewer, editor, admin), strict=True))


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)  # httpx keyword arguments: json=, data=, ...
    done: str | re.Pattern[str] | None = None  # a console form post: "allow" is a 303 to exactly this


_unique = itertools.count(1)


@dataclass
class World:
    """What the requests of one caller's run need: existing ids, and a user whose sign-ins to use."""

    http: httpx.AsyncClient
    container: Container
    subject: str  # email of a user the sign-in routes sign in and out
    target_user_id: str  # a user the PATCH /users row changes
    draft_id: str  # a draft product: only staff may see it

    async def product(self) -> tuple[str, str]:
        created = await self.container.catalog.create_product(SETUP, product_payload(status="active"))
        return str(created.product["id"]), created.etag

    async def api_key_id(self) -> str:
        issued = await self.container.identity.create_api_key(f"matrix-{next(_unique)}", Role.CLIENT)
        return str(issued.key.id)

    async def refresh_token(self) -> str:
        return str((await sign_in(self.http, self.subject))["refresh_token"])


Recipe = Callable[[World], Awaitable[Call]]


async def _get(url: str) -> Call:
    return Call("GET", url)


def get(url: str) -> Recipe:
    return lambda _world: _get(url)


async def create_product(_world: World) -> Call:
    return Call("POST", "/api/v1/products", body={"json": product_payload(status="draft")})


async def read_draft(world: World) -> Call:
    return Call("GET", f"/api/v1/products/{world.draft_id}")


async def patch_product(world: World) -> Call:
    product_id, etag = await world.product()
    return Call(
        "PATCH",
        f"/api/v1/products/{product_id}",
        headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
        body={"content": b'{"stock": 3}'},
    )


async def delete_product(world: World) -> Call:
    product_id, etag = await world.product()
    return Call("DELETE", f"/api/v1/products/{product_id}", headers={"If-Match": etag})


async def token(world: World) -> Call:
    return Call(
        "POST", "/api/v1/auth/token", body={"data": {"username": world.subject, "password": PASSWORD}}
    )


async def refresh(world: World) -> Call:
    return Call("POST", "/api/v1/auth/refresh", body={"json": {"refresh_token": await world.refresh_token()}})


async def logout(world: World) -> Call:
    return Call("POST", "/api/v1/auth/logout", body={"json": {"refresh_token": await world.refresh_token()}})


async def start_session(world: World) -> Call:
    return Call(
        "POST", "/api/v1/auth/session", body={"data": {"username": world.subject, "password": PASSWORD}}
    )


async def end_session(_world: World) -> Call:
    return Call("DELETE", "/api/v1/auth/session")


async def create_user(_world: World) -> Call:
    new = {
        "email": f"new-{next(_unique)}@security.test",
        "password": "a long unusual phrase",
        "role": "viewer",
    }
    return Call("POST", "/api/v1/users", body={"json": new})


async def update_user(world: World) -> Call:
    return Call("PATCH", f"/api/v1/users/{world.target_user_id}", body={"json": {"role": "editor"}})


async def create_api_key(_world: World) -> Call:
    return Call("POST", "/api/v1/apikeys", body={"json": {"name": "matrix", "role": "client"}})


async def revoke_api_key(world: World) -> Call:
    return Call("DELETE", f"/api/v1/apikeys/{await world.api_key_id()}")


async def product_page(world: World) -> Call:
    product_id, _etag = await world.product()
    return Call("GET", f"/products/{product_id}")


async def product_page_with_slug(world: World) -> Call:
    product_id, _etag = await world.product()
    return Call("GET", f"/products/{product_id}/merino-wool-scarf")


async def _shopper(world: World, cookie: str | None = None) -> tuple[str, str]:
    """A shopper's cart cookie and form token, as the storefront's pages hand them out."""
    headers = {"Cookie": f"{SHOPPER_COOKIE}={cookie}"} if cookie else {}
    page = await world.http.get("/products", headers=headers)
    cookie = world.http.cookies.get(SHOPPER_COOKIE) or cookie
    world.http.cookies.clear()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert cookie, "the storefront hands out no cart cookie"
    assert match, "the storefront's page has no form token"
    return cookie, match.group(1)


async def _cart_post(world: World, url: str, form: dict[str, str], cookie: str, csrf: str) -> Call:
    # A browser follows the 303 back to the cart: the outcome is the cart page.
    body: dict[str, Any] = {"data": form | {"csrf_token": csrf}, "follow_redirects": True}
    return Call("POST", url, headers={"Cookie": f"{SHOPPER_COOKIE}={cookie}"}, body=body)


async def _cart_holding(world: World) -> tuple[str, str, str]:
    """A cart with one product in it: (product id, cookie, token)."""
    product_id, _etag = await world.product()
    cookie, csrf = await _shopper(world)
    added = await world.http.post(
        "/cart/items",
        data={"product_id": product_id, "csrf_token": csrf},
        headers={"Cookie": f"{SHOPPER_COOKIE}={cookie}"},
    )
    assert added.status_code == 303, added.text
    cookie = world.http.cookies[SHOPPER_COOKIE]
    world.http.cookies.clear()
    return product_id, cookie, csrf


async def add_to_cart(world: World) -> Call:
    product_id, _etag = await world.product()
    cookie, csrf = await _shopper(world)
    return await _cart_post(world, "/cart/items", {"product_id": product_id, "quantity": "2"}, cookie, csrf)


async def change_cart_quantity(world: World) -> Call:
    product_id, cookie, csrf = await _cart_holding(world)
    return await _cart_post(world, f"/cart/items/{product_id}", {"quantity": "3"}, cookie, csrf)


async def remove_from_cart(world: World) -> Call:
    product_id, cookie, csrf = await _cart_holding(world)
    return await _cart_post(world, f"/cart/items/{product_id}/remove", {}, cookie, csrf)


async def _console_form(world: World) -> tuple[str, str]:
    """A visitor's shopper cookie and the login form's token, as the login page hands them out."""
    page = await world.http.get("/admin/login")
    cookie = world.http.cookies.get(SHOPPER_COOKIE)
    world.http.cookies.clear()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert cookie, "the login page hands out no shopper cookie"
    assert match, "the login page has no form token"
    return cookie, match.group(1)


async def console_login(world: World) -> Call:
    cookie, csrf = await _console_form(world)
    form = {"email": world.subject, "password": PASSWORD, "next": "/admin", "csrf_token": csrf}
    headers = {"Cookie": f"{SHOPPER_COOKIE}={cookie}"}
    return Call("POST", "/admin/login", headers=headers, body={"data": form}, done="/admin")


async def console_logout(_world: World) -> Call:
    # Ends the caller's own console session, if it has one (so it runs near the end, see LAST).
    return Call("POST", "/admin/logout", done="/admin/login?signed_out=1")


def console_product_form(**overrides: str) -> dict[str, str]:
    form = {"name": "Matrix Lamp", "sku": f"MATRIX-{next(_unique)}", "price": "12.00", "currency": "EUR"}
    return form | {"status": "draft", "stock": "1", "tags": "lamp, brass"} | overrides


async def console_bulk_status(world: World) -> Call:
    product_id, _etag = await world.product()
    form = {"product": f"{product_id}:1", "status": "archived", "return_to": "/admin/products?status=active"}
    done = "/admin/products?status=active&changed=1&unchanged=0&to=archived"
    return Call("POST", "/admin/products/status", body={"data": form}, done=done)


async def console_create_product(_world: World) -> Call:
    form = console_product_form(idempotency_key=str(uuid.uuid4()))
    done = re.compile(r"/admin/products/[0-9a-f-]{36}\?created=1")
    return Call("POST", "/admin/products/new", body={"data": form}, done=done)


async def console_product(world: World) -> Call:
    return Call("GET", f"/admin/products/{world.draft_id}")


async def console_save_product(world: World) -> Call:
    product_id, _etag = await world.product()
    form = console_product_form(version="1", status="active")
    return Call(
        "POST",
        f"/admin/products/{product_id}",
        body={"data": form},
        done=f"/admin/products/{product_id}?saved=1",
    )


async def console_delete_product(world: World) -> Call:
    product_id, _etag = await world.product()
    form = {"version": "1", "confirm": "yes"}
    return Call(
        "POST", f"/admin/products/{product_id}/delete", body={"data": form}, done="/admin/products?deleted=1"
    )


async def console_create_user(_world: World) -> Call:
    form = {
        "email": f"console-{next(_unique)}@security.test",
        "password": "a long unusual phrase",
        "role": "viewer",
    }
    return Call("POST", "/admin/users", body={"data": form}, done="/admin/users?created=1")


async def console_update_user(world: World) -> Call:
    url = f"/admin/users/{world.target_user_id}"
    return Call("POST", url, body={"data": {"role": "editor"}}, done="/admin/users?updated=1")


async def console_create_api_key(_world: World) -> Call:
    return Call("POST", "/admin/apikeys", body={"data": {"name": "matrix console", "role": "client"}})


async def console_revoke_api_key(world: World) -> Call:
    url = f"/admin/apikeys/{await world.api_key_id()}/revoke"
    return Call("POST", url, done="/admin/apikeys?revoked=1")


async def capture(path: str) -> Call:
    body = {"batch": [{"event": "matrix", "distinct_id": "someone", "uuid": str(uuid.uuid4())}]}
    if path == "/api/v1/events":
        body = {"events": body["batch"]}
    return Call("POST", path, body={"json": body})


def capture_at(path: str) -> Recipe:
    return lambda _world: capture(path)


# Feedback (feedback/, web/storefront/feedback.py): anyone may send it (a shopper with the page's
# form token, an app with a key, staff), viewers read it, editors triage it.
async def _feedback(world: World) -> str:
    receipt = await world.container.feedback.submit_from_app(
        SETUP, {"rating": 3, "text": "matrix", "distinct_id": "matrix"}, user_agent=None
    )
    return str(receipt.id)


async def send_feedback(world: World) -> Call:
    cookie, csrf = await _shopper(world)  # the storefront script's credentials; apps use their key
    body = {"rating": 4, "text": "Nice shop", "distinct_id": "app-user-1", "page": "/products"}
    headers = {"Cookie": f"{SHOPPER_COOKIE}={cookie}", "X-CSRF-Token": csrf}
    return Call("POST", "/api/v1/feedback", headers=headers, body={"json": body})


async def send_feedback_form(world: World) -> Call:
    cookie, csrf = await _shopper(world)
    form = {"rating": "4", "text": "Nice shop", "page": "/feedback", "csrf_token": csrf}
    headers = {"Cookie": f"{SHOPPER_COOKIE}={cookie}"}
    return Call("POST", "/feedback", headers=headers, body={"data": form}, done="/feedback?sent=1")


async def read_feedback(world: World) -> Call:
    return Call("GET", f"/api/v1/feedback/{await _feedback(world)}")


async def console_triage(world: World) -> Call:
    feedback_id = await _feedback(world)
    form = {"status": "done", "note": "shipped", "version": "1", "next": "/admin/feedback"}
    return Call(
        "POST",
        f"/admin/feedback/{feedback_id}",
        body={"data": form},
        done=f"/admin/feedback?saved={feedback_id}",
    )


async def console_feedback_item(world: World) -> Call:
    return Call("GET", f"/admin/feedback/{await _feedback(world)}")


async def triage_feedback(world: World) -> Call:
    url = f"/api/v1/feedback/{await _feedback(world)}"
    return Call("PATCH", url, headers={"If-Match": '"1"'}, body={"json": {"status": "planned", "note": "ok"}})


# Flags (flags/, ADR 0014): staff read definitions, editors change them, every key evaluates.
async def _flag(world: World) -> str:
    key = f"matrix-flag-{next(_unique)}"
    await world.container.flags.create_flag(SETUP, {"key": key, "rollout": 50})
    return key


async def create_flag(_world: World) -> Call:
    return Call("POST", "/api/v1/flags", body={"json": {"key": f"matrix-new-{next(_unique)}", "rollout": 10}})


async def read_flag(world: World) -> Call:
    return Call("GET", f"/api/v1/flags/{await _flag(world)}")


async def patch_flag(world: World) -> Call:
    url = f"/api/v1/flags/{await _flag(world)}"
    return Call("PATCH", url, headers={"If-Match": '"1"'}, body={"json": {"rollout": 60}})


async def delete_flag(world: World) -> Call:
    return Call("DELETE", f"/api/v1/flags/{await _flag(world)}", headers={"If-Match": '"1"'})


async def evaluate_flag(world: World) -> Call:
    url = f"/ofrep/v1/evaluate/flags/{await _flag(world)}"
    return Call("POST", url, body={"json": {"context": {"targetingKey": "user-1"}}})


async def evaluate_flags(world: World) -> Call:
    await _flag(world)
    return Call("POST", "/ofrep/v1/evaluate/flags", body={"json": {"context": {"targetingKey": "user-1"}}})


# The console's flag pages (web/admin/flags.py): staff read and preview, editors change.
async def console_flag(world: World) -> Call:
    return Call("GET", f"/admin/flags/{await _flag(world)}?targeting_key=user-1&attributes=%7B%7D")


async def console_create_flag(_world: World) -> Call:
    form = {"key": f"matrix-console-{next(_unique)}", "type": "boolean", "enabled": "1", "rollout": "5"}
    done = re.compile(r"/admin/flags/[a-z0-9.-]+\?created=1")
    return Call("POST", "/admin/flags/new", body={"data": form}, done=done)


async def console_save_flag(world: World) -> Call:
    key = await _flag(world)
    form = {"type": "boolean", "enabled": "1", "rollout": "70", "version": "1"}
    return Call("POST", f"/admin/flags/{key}", body={"data": form}, done=f"/admin/flags/{key}?saved=1")


async def console_delete_flag(world: World) -> Call:
    key = await _flag(world)
    form = {"version": "1", "confirm": "yes"}
    return Call("POST", f"/admin/flags/{key}/delete", body={"data": form}, done="/admin/flags?deleted=1")


# Experiments (experiments/): viewers read them and their results, editors define, start and stop.
async def _experiment(world: World, *, started: bool = False) -> str:
    service = world.container.experiments
    created = await service.create(SETUP, experiment_definition(key=f"matrix-{next(_unique)}"))
    if started:
        await service.start(SETUP, created.id)
    return str(created.id)


async def create_experiment(_world: World) -> Call:
    return Call(
        "POST", "/api/v1/experiments", body={"json": experiment_definition(key=f"matrix-{next(_unique)}")}
    )


async def read_experiment(world: World) -> Call:
    return Call("GET", f"/api/v1/experiments/{await _experiment(world)}")


async def patch_experiment(world: World) -> Call:
    url = f"/api/v1/experiments/{await _experiment(world)}"
    headers = {"If-Match": '"1"', "Content-Type": "application/merge-patch+json"}
    return Call("PATCH", url, headers=headers, body={"content": b'{"name": "Renamed"}'})


async def delete_experiment(world: World) -> Call:
    return Call("DELETE", f"/api/v1/experiments/{await _experiment(world)}")


async def start_experiment(world: World) -> Call:
    return Call("POST", f"/api/v1/experiments/{await _experiment(world)}/start")


async def stop_experiment(world: World) -> Call:
    return Call("POST", f"/api/v1/experiments/{await _experiment(world, started=True)}/stop")


async def experiment_results(world: World) -> Call:
    return Call("GET", f"/api/v1/experiments/{await _experiment(world, started=True)}/results")


async def console_experiment(world: World) -> Call:
    return Call("GET", f"/admin/experiments/{await _experiment(world, started=True)}")


async def console_create_experiment(_world: World) -> Call:
    form = {
        "key": f"console-{next(_unique)}",
        "name": "Console test",
        "flag_key": "storefront.product-page-layout",
        "control_variant": "control",
        "event": "add_to_cart",
        "window_hours": "24",
        "minimum_sample": "100",
    }
    done = re.compile(r"/admin/experiments/[0-9a-f-]{36}")
    return Call("POST", "/admin/experiments/new", body={"data": form}, done=done)


async def console_start_experiment(world: World) -> Call:
    experiment_id = await _experiment(world)
    done = f"/admin/experiments/{experiment_id}"
    return Call("POST", f"/admin/experiments/{experiment_id}/start", done=done)


async def console_stop_experiment(world: World) -> Call:
    experiment_id = await _experiment(world, started=True)
    done = f"/admin/experiments/{experiment_id}"
    return Call("POST", f"/admin/experiments/{experiment_id}/stop", done=done)


# The storefront tracker (web/storefront/events.py, ADR 0017): any visitor with the page's shopper
# cookie and form token; the consent banner's answer likewise.
async def tracker_beacon(world: World) -> Call:
    cookie, csrf = await _shopper(world)
    batch = '[{"event": "$pageview", "uuid": "%s", "properties": {}}]' % uuid.uuid4()  # noqa: UP031
    headers = {"Cookie": f"{SHOPPER_COOKIE}={cookie}"}
    form = {"csrf_token": csrf, "batch": batch}
    return Call("POST", "/storefront/events", headers=headers, body={"data": form})


async def consent_answer(world: World) -> Call:
    cookie, csrf = await _shopper(world)
    form = {"csrf_token": csrf, "choice": "granted", "next": "/products"}
    headers = {"Cookie": f"{SHOPPER_COOKIE}={cookie}"}
    return Call("POST", "/storefront/consent", headers=headers, body={"data": form}, done="/products")


@dataclass(frozen=True)
class Rule:
    expect: dict[str, Outcome]
    request: Recipe


# Bulk import and export (transfer/): editors import, anyone who reads the whole catalog exports it.
IMPORT_CSV = b"sku,name,price,currency\nMATRIX-IMPORT,Matrix import,1.00,EUR\n"


def _upload() -> Path:
    upload = Path(tempfile.mkstemp(suffix=".csv")[1])
    upload.write_bytes(IMPORT_CSV)
    return upload


async def _import_job(world: World) -> str:
    job = await world.container.transfer.start_import(SETUP, _upload(), filename="matrix.csv")
    await world.container.transfer.wait(job.id)
    return str(job.id)


async def start_import(_world: World) -> Call:
    return Call("POST", "/api/v1/imports", body={"files": {"file": ("matrix.csv", IMPORT_CSV, "text/csv")}})


async def read_import(world: World) -> Call:
    return Call("GET", f"/api/v1/imports/{await _import_job(world)}")


async def import_errors(world: World) -> Call:
    return Call("GET", f"/api/v1/imports/{await _import_job(world)}/errors.csv")


async def console_import(_world: World) -> Call:
    # Multipart: session callers send X-CSRF-Token (the console's form sends its first field).
    return Call(
        "POST",
        "/admin/imports",
        body={"files": {"file": ("matrix.csv", IMPORT_CSV, "text/csv")}, "data": {"format": "shelf-csv"}},
        done=re.compile(r"/admin/imports/[0-9a-f-]{36}"),
    )


async def console_import_job(world: World) -> Call:
    return Call("GET", f"/admin/imports/{await _import_job(world)}")


PUBLIC = row(OK, OK, OK, OK, OK)
STAFF_READ = row(404, 404, OK, OK, OK)  # the product is a draft: others may not learn it exists
CATALOG_WRITE = row(401, 403, 403, OK, OK)
ADMIN_ONLY = row(401, 403, 403, 403, OK)
EVENTS_CAPTURE = row(401, OK, 403, 403, OK)  # client keys (and admins) send analytics events
ANALYTICS_READ = row(401, 403, OK, OK, OK)
CONSOLE_STAFF = row(LOGIN, 403, OK, OK, OK)  # console pages any member of staff may read
FEEDBACK_READ = row(401, 403, OK, OK, OK)
FEEDBACK_TRIAGE = row(401, 403, 403, OK, OK)
CONSOLE_CATALOG_WRITE = row(LOGIN, 403, 403, OK, OK)
FLAGS_READ = row(401, 403, OK, OK, OK)
FLAGS_WRITE = row(401, 403, 403, OK, OK)
FLAGS_EVALUATE = row(401, OK, OK, OK, OK)  # client keys evaluate (OFREP), and may do nothing else
EXPERIMENTS_READ = row(401, 403, OK, OK, OK)
EXPERIMENTS_WRITE = row(401, 403, 403, OK, OK)
CONSOLE_EXP_WRITE = row(LOGIN, 403, 403, OK, OK)  # console experiment forms: editors
CONSOLE_FLAGS_WRITE = row(LOGIN, 403, 403, OK, OK)  # console flag forms: editors
CONSOLE_ADMIN = row(LOGIN, 403, 403, 403, OK)
CONSOLE_ANALYTICS = row(LOGIN, 403, OK, OK, OK)  # the analytics pages: as the REST queries, viewers and up

# The one declaration of who may do what. Columns: anonymous, client, viewer, editor, admin.
ACCESS: dict[tuple[str, str], Rule] = {
    # Analytics: capture with a client key (PostHog's paths and Shelf's own), queries for staff.
    **{("POST", path): Rule(EVENTS_CAPTURE, capture_at(path)) for path in CAPTURE_PATHS},
    ("GET", "/api/v1/analytics/trends"): Rule(ANALYTICS_READ, get("/api/v1/analytics/trends?event=matrix")),
    ("GET", "/api/v1/analytics/active-users"): Rule(ANALYTICS_READ, get("/api/v1/analytics/active-users")),
    ("GET", "/api/v1/analytics/funnel"): Rule(ANALYTICS_READ, get("/api/v1/analytics/funnel?steps=a,b")),
    ("GET", "/api/v1/analytics/retention"): Rule(
        ANALYTICS_READ, get("/api/v1/analytics/retention?start_event=a&return_event=b")
    ),
    ("GET", "/api/v1/analytics/top-products"): Rule(ANALYTICS_READ, get("/api/v1/analytics/top-products")),
    # Feedback: sent by anyone (shoppers with the page's token, apps with a key), read by staff.
    ("POST", "/api/v1/feedback"): Rule(PUBLIC, send_feedback),
    ("POST", "/feedback"): Rule(PUBLIC, send_feedback_form),
    ("GET", "/api/v1/feedback"): Rule(FEEDBACK_READ, get("/api/v1/feedback?rating_min=2&status=new")),
    ("GET", "/api/v1/feedback/summary"): Rule(FEEDBACK_READ, get("/api/v1/feedback/summary?weeks=4")),
    ("GET", "/api/v1/feedback/{feedback_id}"): Rule(FEEDBACK_READ, read_feedback),
    ("PATCH", "/api/v1/feedback/{feedback_id}"): Rule(FEEDBACK_TRIAGE, triage_feedback),
    # Flags: definitions for staff, changes for editors, evaluation (OFREP) for every key.
    ("GET", "/api/v1/flags"): Rule(FLAGS_READ, get("/api/v1/flags")),
    ("POST", "/api/v1/flags"): Rule(FLAGS_WRITE, create_flag),
    ("GET", "/api/v1/flags/{key}"): Rule(FLAGS_READ, read_flag),
    ("PATCH", "/api/v1/flags/{key}"): Rule(FLAGS_WRITE, patch_flag),
    ("DELETE", "/api/v1/flags/{key}"): Rule(FLAGS_WRITE, delete_flag),
    ("POST", "/ofrep/v1/evaluate/flags/{key}"): Rule(FLAGS_EVALUATE, evaluate_flag),
    ("POST", "/ofrep/v1/evaluate/flags"): Rule(FLAGS_EVALUATE, evaluate_flags),
    ("GET", "/ofrep/v1/configuration"): Rule(FLAGS_EVALUATE, get("/ofrep/v1/configuration")),
    # Bulk import and export: import jobs for editors, the export for staff who read the catalog.
    ("POST", "/api/v1/imports"): Rule(CATALOG_WRITE, start_import),
    ("GET", "/api/v1/imports/{job_id}"): Rule(CATALOG_WRITE, read_import),
    ("GET", "/api/v1/imports/{job_id}/errors.csv"): Rule(CATALOG_WRITE, import_errors),
    ("GET", "/api/v1/exports"): Rule(row(401, 403, OK, OK, OK), get("/api/v1/exports?format=jsonl")),
    # Experiments: staff read them and their results, editors change them.
    ("GET", "/api/v1/experiments"): Rule(EXPERIMENTS_READ, get("/api/v1/experiments")),
    ("POST", "/api/v1/experiments"): Rule(EXPERIMENTS_WRITE, create_experiment),
    ("GET", "/api/v1/experiments/{experiment_id}"): Rule(EXPERIMENTS_READ, read_experiment),
    ("PATCH", "/api/v1/experiments/{experiment_id}"): Rule(EXPERIMENTS_WRITE, patch_experiment),
    ("DELETE", "/api/v1/experiments/{experiment_id}"): Rule(EXPERIMENTS_WRITE, delete_experiment),
    ("POST", "/api/v1/experiments/{experiment_id}/start"): Rule(EXPERIMENTS_WRITE, start_experiment),
    ("POST", "/api/v1/experiments/{experiment_id}/stop"): Rule(EXPERIMENTS_WRITE, stop_experiment),
    ("GET", "/api/v1/experiments/{experiment_id}/results"): Rule(EXPERIMENTS_READ, experiment_results),
    # Outside the API: the probes, the metrics and the API reference. A scraper reads /metrics
    # with SHELF_METRICS_TOKEN instead (tests/integration/monitoring/test_metrics_access.py).
    ("GET", "/healthz"): Rule(PUBLIC, get("/healthz")),
    ("GET", "/readyz"): Rule(PUBLIC, get("/readyz")),
    ("GET", "/metrics"): Rule(ADMIN_ONLY, get("/metrics")),
    ("GET", "/openapi.json"): Rule(PUBLIC, get("/openapi.json")),
    ("GET", "/docs"): Rule(PUBLIC, get("/docs")),
    ("GET", "/docs/assets/{path}"): Rule(PUBLIC, get("/docs/assets/swagger-ui.css")),
    # The storefront: the shop as anyone sees it (active products only, whoever asks), and a cart
    # in a cookie that any visitor may fill (its posts carry the page's form token).
    ("GET", "/"): Rule(PUBLIC, get("/")),
    ("GET", "/static/{path}"): Rule(PUBLIC, get("/static/css/shelf.css")),
    ("GET", "/products"): Rule(PUBLIC, get("/products?category=apparel&sort=price")),
    ("GET", "/products/{product_id}"): Rule(PUBLIC, product_page),
    ("GET", "/products/{product_id}/{slug}"): Rule(PUBLIC, product_page_with_slug),
    ("GET", "/feedback"): Rule(PUBLIC, get("/feedback")),
    ("GET", "/cart"): Rule(PUBLIC, get("/cart")),
    ("POST", "/cart/items"): Rule(PUBLIC, add_to_cart),
    ("POST", "/cart/items/{product_id}"): Rule(PUBLIC, change_cart_quantity),
    ("POST", "/cart/items/{product_id}/remove"): Rule(PUBLIC, remove_from_cart),
    ("POST", "/storefront/events"): Rule(PUBLIC, tracker_beacon),
    ("POST", "/storefront/consent"): Rule(PUBLIC, consent_answer),
    # The catalog: published products are public, drafts are for staff, changes for editors.
    ("GET", "/api/v1/products"): Rule(PUBLIC, get("/api/v1/products?limit=5")),
    ("GET", "/api/v1/products/{product_id}"): Rule(STAFF_READ, read_draft),
    ("POST", "/api/v1/products"): Rule(CATALOG_WRITE, create_product),
    ("PATCH", "/api/v1/products/{product_id}"): Rule(CATALOG_WRITE, patch_product),
    ("DELETE", "/api/v1/products/{product_id}"): Rule(CATALOG_WRITE, delete_product),
    # Signing in and out: whoever holds the password or the refresh token.
    ("POST", "/api/v1/auth/token"): Rule(PUBLIC, token),
    ("POST", "/api/v1/auth/refresh"): Rule(PUBLIC, refresh),
    ("POST", "/api/v1/auth/logout"): Rule(PUBLIC, logout),
    ("GET", "/api/v1/auth/me"): Rule(PUBLIC, get("/api/v1/auth/me")),
    ("POST", "/api/v1/auth/session"): Rule(PUBLIC, start_session),
    ("DELETE", "/api/v1/auth/session"): Rule(PUBLIC, end_session),
    # Administration.
    ("GET", "/api/v1/users"): Rule(ADMIN_ONLY, get("/api/v1/users")),
    ("POST", "/api/v1/users"): Rule(ADMIN_ONLY, create_user),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(ADMIN_ONLY, update_user),
    ("GET", "/api/v1/apikeys"): Rule(ADMIN_ONLY, get("/api/v1/apikeys")),
    ("POST", "/api/v1/apikeys"): Rule(ADMIN_ONLY, create_api_key),
    ("DELETE", "/api/v1/apikeys/{key_id}"): Rule(ADMIN_ONLY, revoke_api_key),
    ("GET", "/api/v1/audit"): Rule(ADMIN_ONLY, get("/api/v1/audit")),
    # The admin console (web/admin/): logging in and out is for anyone, pages need a permission.
    ("GET", "/admin/login"): Rule(PUBLIC, get("/admin/login?next=/admin")),
    ("POST", "/admin/login"): Rule(PUBLIC, console_login),
    ("POST", "/admin/logout"): Rule(PUBLIC, console_logout),
    ("GET", "/admin"): Rule(CONSOLE_STAFF, get("/admin")),
    ("GET", "/admin/system"): Rule(CONSOLE_ADMIN, get("/admin/system")),
    ("GET", "/admin/feedback"): Rule(CONSOLE_STAFF, get("/admin/feedback?rating=3&status=new")),
    ("GET", "/admin/feedback/{feedback_id}"): Rule(CONSOLE_STAFF, console_feedback_item),
    ("POST", "/admin/feedback/{feedback_id}"): Rule(row(LOGIN, 403, 403, OK, OK), console_triage),
    ("GET", "/admin/products"): Rule(CONSOLE_STAFF, get("/admin/products?status=draft&sort=name")),
    ("POST", "/admin/products/status"): Rule(CONSOLE_CATALOG_WRITE, console_bulk_status),
    ("GET", "/admin/products/new"): Rule(CONSOLE_CATALOG_WRITE, get("/admin/products/new")),
    ("POST", "/admin/products/new"): Rule(CONSOLE_CATALOG_WRITE, console_create_product),
    ("GET", "/admin/products/{product_id}"): Rule(CONSOLE_STAFF, console_product),
    ("POST", "/admin/products/{product_id}"): Rule(CONSOLE_CATALOG_WRITE, console_save_product),
    ("POST", "/admin/products/{product_id}/delete"): Rule(CONSOLE_CATALOG_WRITE, console_delete_product),
    ("GET", "/admin/users"): Rule(CONSOLE_ADMIN, get("/admin/users")),
    ("POST", "/admin/users"): Rule(CONSOLE_ADMIN, console_create_user),
    ("POST", "/admin/users/{user_id}"): Rule(CONSOLE_ADMIN, console_update_user),
    ("GET", "/admin/apikeys"): Rule(CONSOLE_ADMIN, get("/admin/apikeys")),
    ("POST", "/admin/apikeys"): Rule(CONSOLE_ADMIN, console_create_api_key),
    ("POST", "/admin/apikeys/{key_id}/revoke"): Rule(CONSOLE_ADMIN, console_revoke_api_key),
    ("GET", "/admin/audit"): Rule(CONSOLE_ADMIN, get("/admin/audit?entity_type=product")),
    ("GET", "/admin/imports"): Rule(CONSOLE_CATALOG_WRITE, get("/admin/imports")),
    ("POST", "/admin/imports"): Rule(CONSOLE_CATALOG_WRITE, console_import),
    ("GET", "/admin/imports/{job_id}"): Rule(CONSOLE_CATALOG_WRITE, console_import_job),
    ("GET", "/admin/flags"): Rule(CONSOLE_STAFF, get("/admin/flags")),
    ("GET", "/admin/flags/new"): Rule(CONSOLE_FLAGS_WRITE, get("/admin/flags/new")),
    ("POST", "/admin/flags/new"): Rule(CONSOLE_FLAGS_WRITE, console_create_flag),
    ("GET", "/admin/flags/{key}"): Rule(CONSOLE_STAFF, console_flag),
    ("POST", "/admin/flags/{key}"): Rule(CONSOLE_FLAGS_WRITE, console_save_flag),
    ("POST", "/admin/flags/{key}/delete"): Rule(CONSOLE_FLAGS_WRITE, console_delete_flag),
    ("GET", "/admin/analytics"): Rule(
        CONSOLE_ANALYTICS, get("/admin/analytics?event=matrix&interval=week&breakdown=path")
    ),
    ("GET", "/admin/analytics/funnel"): Rule(CONSOLE_ANALYTICS, get("/admin/analytics/funnel?steps=a,b")),
    ("GET", "/admin/analytics/retention"): Rule(
        CONSOLE_ANALYTICS, get("/admin/analytics/retention?start_event=a&return_event=b&period=day")
    ),
    ("GET", "/admin/experiments"): Rule(CONSOLE_STAFF, get("/admin/experiments")),
    ("GET", "/admin/experiments/new"): Rule(CONSOLE_EXP_WRITE, get("/admin/experiments/new")),
    ("POST", "/admin/experiments/new"): Rule(CONSOLE_EXP_WRITE, console_create_experiment),
    ("GET", "/admin/experiments/{experiment_id}"): Rule(CONSOLE_STAFF, console_experiment),
    ("POST", "/admin/experiments/{experiment_id}/start"): Rule(CONSOLE_EXP_WRITE, console_start_experiment),
    ("POST", "/admin/experiments/{experiment_id}/stop"): Rule(CONSOLE_EXP_WRITE, console_stop_experiment),
}
# A session caller ends its own session with these, so they run last, in this order.
LAST = (("POST", "/admin/logout"), ("DELETE", "/api/v1/auth/session"))


async def test_every_route_is_declared_and_every_declaration_is_a_route(
    route_table: set[tuple[str, str]],
) -> None:
    undeclared = sorted(route_table - ACCESS.keys())
    gone = sorted(ACCESS.keys() - route_table)
    problems = [f"{method} {path}: declare its expected access in {HERE}" for method, path in undeclared]
    problems += [f"{method} {path}: no such route any more; remove it from {HERE}" for method, path in gone]
    assert not problems, "\n".join(problems)
    assert len(route_table) >= 20  # the walk found the included routers, not just the app's own routes


def test_every_cell_of_the_table_is_an_outcome() -> None:
    for pair, rule in ACCESS.items():
        assert tuple(rule.expect) == ROLES, pair
        assert all(outcome in (OK, LOGIN) or outcome in DENIALS for outcome in rule.expect.values()), pair
        assert rule.expect["anonymous"] != LOGIN or pair[1].startswith("/admin"), pair
        assert LOGIN not in [rule.expect[role] for role in ROLES if role != "anonymous"], pair
    # The table is not trivially permissive: each role is refused somewhere, but admins nowhere.
    for role in ("anonymous", "client", "viewer", "editor"):
        assert any(rule.expect[role] != OK for rule in ACCESS.values()), role
    assert all(rule.expect["admin"] == OK for rule in ACCESS.values())


@dataclass(frozen=True)
class Caller:
    role: str
    credential: str  # "none", "api key", "jwt" or "session"

    def __str__(self) -> str:
        return f"{self.role} ({self.credential})"


CALLERS = [
    Caller("anonymous", "none"),
    *(Caller(role, "api key") for role in ("client", "viewer", "editor", "admin")),
    *(Caller(role, "jwt") for role in ("viewer", "editor", "admin")),
    *(Caller(role, "session") for role in ("viewer", "editor", "admin")),
]


async def credentials(
    caller: Caller, http: httpx.AsyncClient, container: Container, keys: Keys
) -> dict[str, str]:
    if caller.credential == "none":
        return {}
    if caller.credential == "api key":
        return keys.auth(caller.role)
    email = f"caller-{caller.role}@security.test"
    await container.identity.create_user(email, PASSWORD, Role(caller.role))
    if caller.credential == "jwt":
        return bearer((await sign_in(http, email))["access_token"])
    started = await http.post("/api/v1/auth/session", data={"username": email, "password": PASSWORD})
    assert started.status_code == 201, started.text
    cookie = http.cookies["shelf_session"]
    http.cookies.clear()  # sent explicitly below, so that no response can swap it
    return {"Cookie": f"shelf_session={cookie}", "X-CSRF-Token": started.json()["csrf_token"]}


def _redirect(response: httpx.Response, location: str | re.Pattern[str]) -> str | None:
    given = response.headers.get("location", "")
    matches = location.fullmatch(given) if isinstance(location, re.Pattern) else given == location
    if response.status_code == 303 and matches:
        return None
    return f"expected a 303 to {location}, got {response.status_code} {response.headers.get('location')}"


def check(response: httpx.Response, expected: Outcome, call: Call) -> str | None:
    """What is wrong with ``response`` when ``expected`` was the outcome, or ``None``."""
    if expected == LOGIN:
        login = "/admin/login"
        if call.method == "GET":
            login += "?" + urlencode({"next": call.url}, safe="/")
        return _redirect(response.history[0] if response.history else response, login)
    if expected == OK and call.done is not None:
        return _redirect(response, call.done)
    if expected == OK:
        if 200 <= response.status_code < 300:
            return None
        return f"expected a 2xx, got {response.status_code}: {response.text[:200]}"
    try:
        assert_problem(response, int(expected))
        if expected == 401:
            assert response.headers.get("www-authenticate", "").startswith("Bearer"), "no WWW-Authenticate"
    except AssertionError as error:
        return f"expected a {expected} problem, got {response.status_code}: {str(error)[:200]}"
    return None


@pytest.mark.parametrize("caller", CALLERS, ids=str)
async def test_each_route_answers_each_caller_as_declared(
    caller: Caller, app: FastAPI, http: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    subject = await container.identity.create_user("subject@security.test", PASSWORD, Role.VIEWER)
    target = await container.identity.create_user("target@security.test", PASSWORD, Role.VIEWER)
    draft = await container.catalog.create_product(SETUP, product_payload(status="draft"))
    await ensure_dogfood_flag(container)  # the flag the experiments' rows run on
    world = World(http, container, subject.email, str(target.id), str(draft.product["id"]))
    auth = await credentials(caller, http, container, keys)
    assert await audit_count(container) > 0  # the setup was recorded: the count reads the real log

    me = (await http.get("/api/v1/auth/me", headers=auth)).json()
    assert me["role"] == (None if caller.role == "anonymous" else caller.role), me
    http.cookies.clear()

    pairs = sorted(routed_pairs(app), key=lambda pair: (LAST.index(pair) if pair in LAST else -1, pair))
    mismatches = []
    for method, path in pairs:
        rule = ACCESS.get((method, path))
        if rule is None:
            mismatches.append(f"{method} {path}: declare its expected access in {HERE}")
            continue
        call = await rule.request(world)
        assert call.method == method, f"the recipe for {method} {path} sends {call.method}"
        expected = rule.expect[caller.role]
        changes_before = await audit_count(container)
        headers = call.headers | auth
        if "Cookie" in call.headers and "Cookie" in auth:  # a browser sends every cookie it holds
            headers["Cookie"] = f"{call.headers['Cookie']}; {auth['Cookie']}"
        response = await http.request(call.method, call.url, headers=headers, **call.body)
        http.cookies.clear()
        wrong = check(response, expected, call)
        if wrong is None and expected != OK and await audit_count(container) != changes_before:
            wrong = f"refused with {response.status_code}, but the request changed something anyway"
        if wrong:
            mismatches.append(f"{method} {path} as {caller} ({call.method} {call.url}): {wrong}")
    if mismatches:
        pytest.fail(f"{len(mismatches)} cells of the matrix differ:\n" + "\n".join(mismatches), pytrace=False)
