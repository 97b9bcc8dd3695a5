"""The console's analytics: ``/admin/analytics`` (trends of an event, active users, top products),
``/admin/analytics/funnel`` and ``/admin/analytics/retention``, for viewers and up.

Each page is a GET form of controls over the same ``AnalyticsService`` queries the REST routes call
(``analytics/api.py``), a chart per result drawn by ``static/js/analytics.js`` with the vendored
uPlot from a ``<script type="application/json">`` data block (never executed, so the page CSP
needs no exception), and beside every chart a table of the same numbers, so the page reads the same
without JavaScript and to a screen reader. Controls that make no sense (a bad date, an unknown
interval, ``from`` after ``to``, too many funnel steps) are named next to their field: 422, no chart.

Dates are whole UTC days and ``to`` is inclusive on these pages (the API's ``to`` is exclusive);
blank dates mean a default range that the page states.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.analytics.schemas import (
    ActiveUsersQuery,
    FunnelQuery,
    RetentionQuery,
    TopProducts,
    TopProductsQuery,
    TrendsQuery,
)
from shelf.analytics.service import AnalyticsService
from shelf.catalog.errors import ProductNotFound
from shelf.catalog.service import CatalogService
from shelf.gateway.problems import field_errors
from shelf.identity.permissions import Permission, Principal
from shelf.platform.errors import InvalidInput
from shelf.web.admin import analytics_charts as charts
from shelf.web.admin.guard import AdminRoute, requires
from shelf.web.admin.rendering import render

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
Reader = Annotated[Principal, Depends(requires(Permission.ANALYTICS_READ))]
HOME = "/admin/analytics"
FUNNEL = HOME + "/funnel"
RETENTION = HOME + "/retention"
# The default range of each interval, in days ending today (the REST defaults, in whole days).
TREND_DAYS = {"hour": 2, "day": 30, "week": 84, "month": 365}
RANGE_DAYS = 30
TOP_PRODUCTS = 10
KNOWN_EVENTS = ("$pageview", "product_viewed", "search", "add_to_cart", "$feature_flag_called")
TRENDS_DEFAULTS = {"event": "$pageview", "interval": "day", "breakdown": "", "from": "", "to": ""}
FUNNEL_DEFAULTS = {"steps": "$pageview,product_viewed,add_to_cart", "window": "1d", "from": "", "to": ""}
RETENTION_DEFAULTS = {
    "start_event": "$pageview",
    "return_event": "$pageview",
    "period": "week",
    "periods": "8",
    "from": "",
    "to": "",
}
Q = TypeVar("Q", bound=BaseModel)
T = TypeVar("T")
DATE_MESSAGE = "Enter the date as YYYY-MM-DD, for example 2026-03-02."


def _analytics(request: Request) -> AnalyticsService:
    service: AnalyticsService = request.app.state.container.analytics
    return service


def _catalog(request: Request) -> CatalogService:
    service: CatalogService = request.app.state.container.catalog
    return service


AnalyticsDep = Annotated[AnalyticsService, Depends(_analytics)]
CatalogDep = Annotated[CatalogService, Depends(_catalog)]


class Controls:
    """The page's controls as typed (kept in the form), and what is wrong with them, by field."""

    def __init__(self, request: Request, defaults: Mapping[str, str]) -> None:
        typed = request.query_params
        self.values = {name: typed.get(name, default).strip() for name, default in defaults.items()}
        self.errors: dict[str, str] = {}
        self._today = request.app.state.container.clock.now().astimezone(UTC).date()

    def days(self, default_days: int) -> tuple[datetime, datetime] | None:
        """``from`` 00:00 to the end of ``to`` (inclusive), UTC; blank: the last ``default_days``."""
        first, last = self._date("from"), self._date("to")
        if "from" in self.errors or "to" in self.errors:
            return None
        last = last or self._today
        first = first or last - timedelta(days=default_days - 1)
        if first > last:
            self.errors["to"] = "The end date is before the start date."
            return None
        return _midnight(first), _midnight(last + timedelta(days=1))

    def _date(self, name: str) -> date | None:
        raw = self.values[name]
        if not raw:
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = None
        if day is None or not 1970 <= day.year <= 9998:
            self.errors[name] = DATE_MESSAGE
            return None
        return day

    def query(self, model: type[Q], fields: Mapping[str, Any]) -> Q | None:
        """``model`` (an API query schema) of ``fields``; its complaints become field errors."""
        try:
            return model.model_validate(fields)
        except ValidationError as refused:
            self.refuse(field_errors(refused))
            return None

    def refuse(self, problems: list[dict[str, str]], default_field: str = "from") -> None:
        for problem in problems:
            field = str(problem.get("field", "")).split(".", maxsplit=1)[0]
            field = field if field in self.values else default_field
            self.errors.setdefault(field, _sentence(str(problem["message"])))

    def shown(self, span: tuple[datetime, datetime]) -> dict[str, str]:
        """The range a page covers, as a person reads it: first and last day."""
        return {"first": span[0].date().isoformat(), "last": (span[1] - timedelta(days=1)).date().isoformat()}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _sentence(message: str) -> str:
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


async def _answer(controls: Controls, call: Callable[[], Awaitable[T]], field: str) -> T | None:
    """The service's answer, or ``None`` with its ``InvalidInput`` (a range too long for the
    interval) shown on the control it names, else on ``field``."""
    try:
        return await call()
    except InvalidInput as refused:
        named = (str(problem.get("field", "")) for problem in refused.errors)
        target = next((name for name in named if name in controls.values), field)
        controls.errors.setdefault(target, _sentence(refused.detail))
        return None


def _page(request: Request, template: str, controls: Controls, context: dict[str, Any]) -> Response:
    context = {
        "values": controls.values,
        "errors": controls.errors,
        "known_events": KNOWN_EVENTS,
        "duration": charts.duration,
    } | context
    return render(request, template, context, status_code=422 if controls.errors else 200)


@router.get(HOME)
async def trends_page(
    request: Request, principal: Reader, analytics: AnalyticsDep, catalog: CatalogDep
) -> Response:
    controls = Controls(request, TRENDS_DEFAULTS)
    values = controls.values
    interval_days = TREND_DAYS.get(values["interval"], RANGE_DAYS)
    span = controls.days(interval_days)
    fields: dict[str, str | None] = {"event": values["event"], "interval": values["interval"]}
    fields["breakdown"] = values["breakdown"] or None
    query = controls.query(TrendsQuery, fields | _range_fields(span))
    if query is None or span is None:
        return _page(request, "admin/analytics/trends.html", controls, {"trends": None})
    trends = await _answer(controls, lambda: analytics.trends(principal, query), "interval")
    if trends is None:
        return _page(request, "admin/analytics/trends.html", controls, {"trends": None})
    range_fields = _range_fields(span)
    active_refused: str | None = None
    try:
        active = await analytics.active_users(principal, ActiveUsersQuery.model_validate(range_fields))
        top = await analytics.top_products(
            principal, TopProductsQuery.model_validate(range_fields | {"limit": TOP_PRODUCTS})
        )
    except InvalidInput as refused:  # the range is fine for weeks or months, too long for days
        active, top, active_refused = None, None, _sentence(refused.detail)
    context = {
        "trends": trends,
        "trends_chart": charts.trends(trends),
        "breakdown_headers": [
            {"label": charts.breakdown_label(part.value), "numeric": True} for part in trends.breakdowns or []
        ],
        "active": active,
        "active_chart": charts.active_users(active) if active else None,
        "active_refused": active_refused,
        "top": top,
        "names": await _product_names(principal, catalog, top) if top else {},
        "shown": controls.shown(span),
        "covered": controls.shown((trends.start, trends.end)),  # whole weeks or months
    }
    return _page(request, "admin/analytics/trends.html", controls, context)


@router.get(FUNNEL)
async def funnel_page(request: Request, principal: Reader, analytics: AnalyticsDep) -> Response:
    controls = Controls(request, FUNNEL_DEFAULTS)
    span = controls.days(RANGE_DAYS)
    fields = {"steps": controls.values["steps"], "window": controls.values["window"]}
    query = controls.query(FunnelQuery, fields | _range_fields(span))
    funnel = None
    if query is not None and span is not None:
        funnel = await _answer(controls, lambda: analytics.funnel(principal, query), "from")
    context: dict[str, Any] = {"funnel": funnel}
    if funnel is not None and span is not None:
        context |= {"funnel_chart": charts.funnel(funnel), "shown": controls.shown(span)}
    return _page(request, "admin/analytics/funnel.html", controls, context)


@router.get(RETENTION)
async def retention_page(request: Request, principal: Reader, analytics: AnalyticsDep) -> Response:
    controls = Controls(request, RETENTION_DEFAULTS)
    values = controls.values
    periods = int(values["periods"]) if values["periods"].isdecimal() else 0
    length = 1 if values["period"] == "day" else 7
    span = controls.days(length * min(max(periods, 1), 52))
    fields = {key: values[key] for key in ("start_event", "return_event", "period", "periods")}
    query = controls.query(RetentionQuery, fields | _range_fields(span))
    retention = None
    if query is not None and span is not None:
        retention = await _answer(controls, lambda: analytics.retention(principal, query), "from")
    context: dict[str, Any] = {"retention": retention}
    if retention is not None and span is not None:
        context |= {
            "retention_chart": charts.retention(retention),
            "shown": controls.shown(span),
            "heat": charts.heat_level,
        }
    return _page(request, "admin/analytics/retention.html", controls, context)


def _range_fields(span: tuple[datetime, datetime] | None) -> dict[str, datetime]:
    return {"from": span[0], "to": span[1]} if span else {}


async def _product_names(principal: Principal, catalog: CatalogService, top: TopProducts) -> dict[str, str]:
    """The catalog's name of each product in the lists (events may name products since deleted)."""
    names: dict[str, str] = {}
    for stat in [*top.by_views, *top.by_add_to_cart]:
        if stat.product_id in names:
            continue
        try:
            product, _etag = await catalog.get_product(principal, uuid.UUID(stat.product_id))
        except (ValueError, ProductNotFound):
            continue
        names[stat.product_id] = str(product["name"])
    return names
