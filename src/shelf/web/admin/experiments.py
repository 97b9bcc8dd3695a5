"""The console's experiments: ``/admin/experiments`` lists them, ``/admin/experiments/new`` defines
one (editors), ``/admin/experiments/{id}`` shows its results: an inline SVG bar chart of the rate
per variant with its 95% interval as whiskers, and a table of every number (no JavaScript).
Editors start and stop an experiment there.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.experiments import statistics as stats
from shelf.experiments.schemas import ExperimentResults
from shelf.experiments.service import ExperimentService
from shelf.gateway.problems import field_errors
from shelf.identity.permissions import Permission, Principal
from shelf.platform.errors import Conflict, InvalidInput, NotFound
from shelf.web.admin.guard import AdminRoute, requires
from shelf.web.admin.rendering import render, see_other

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
Reader = Annotated[Principal, Depends(requires(Permission.EXPERIMENTS_READ))]
Writer = Annotated[Principal, Depends(requires(Permission.EXPERIMENTS_WRITE))]
FormValue = Annotated[str | None, Form()]
HOME = "/admin/experiments"
CHART_WIDTH = 480
BAR_HEIGHT = 28
LABEL_WIDTH = 110


def _service(request: Request) -> ExperimentService:
    service: ExperimentService = request.app.state.container.experiments
    return service


ServiceDep = Annotated[ExperimentService, Depends(_service)]


def _id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("no experiment with this id exists") from None


@router.get(HOME)
async def experiments_list(request: Request, principal: Reader, service: ServiceDep) -> Response:
    page = await service.all(principal)
    return render(
        request,
        "admin/experiments/list.html",
        {"items": page.items, "may_write": principal.can(Permission.EXPERIMENTS_WRITE)},
    )


def _form_page(
    request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    return render(
        request, "admin/experiments/new.html", {"values": values, "errors": errors}, status_code=status_code
    )


@router.get(HOME + "/new")
async def new_form(request: Request, principal: Writer) -> Response:
    values = {"control_variant": "control", "window_hours": "24", "minimum_sample": "100"}
    return _form_page(request, values, {})


@router.post(HOME + "/new")
async def create(
    request: Request,
    principal: Writer,
    service: ServiceDep,
    *,
    key: FormValue = None,
    name: FormValue = None,
    description: FormValue = None,
    flag_key: FormValue = None,
    control_variant: FormValue = None,
    event: FormValue = None,
    window_hours: FormValue = None,
    minimum_sample: FormValue = None,
) -> Response:
    values = {
        "key": key or "",
        "name": name or "",
        "description": description or "",
        "flag_key": flag_key or "",
        "control_variant": control_variant or "",
        "event": event or "",
        "window_hours": window_hours or "",
        "minimum_sample": minimum_sample or "",
    }
    errors: dict[str, str] = {}
    hours = _integer(values["window_hours"], "window_hours", errors)
    sample = _integer(values["minimum_sample"], "minimum_sample", errors)
    if errors:
        return _form_page(request, values, errors, 422)
    payload: dict[str, Any] = {
        "key": values["key"],
        "name": values["name"],
        "description": values["description"],
        "flag_key": values["flag_key"],
        "control_variant": values["control_variant"],
        "primary_metric": {"kind": "conversion", "event": values["event"], "window_seconds": hours * 3600},
        "minimum_sample": sample,
    }
    try:
        created = await service.create(principal, payload)
    except (ValidationError, InvalidInput) as refused:
        problems = field_errors(refused) if isinstance(refused, ValidationError) else refused.errors
        for item in problems:
            field = str(item.get("field", "body"))
            field = "event" if field.startswith("primary_metric") else field.split(".", maxsplit=1)[0]
            errors.setdefault(field, str(item["message"]))
        return _form_page(request, values, errors, 422)
    except Conflict as conflict:
        return _form_page(request, values, {"key": conflict.detail}, 409)
    return see_other(f"{HOME}/{created.id}")


def _integer(raw: str, field: str, errors: dict[str, str]) -> int:
    if raw.strip().isdecimal():
        return int(raw.strip())
    errors[field] = "Enter a whole number."
    return 0


@router.get(HOME + "/{experiment_id}")
async def results_page(
    request: Request, experiment_id: str, principal: Reader, service: ServiceDep
) -> Response:
    experiment = await service.get(principal, _id(experiment_id))
    results = await service.results(principal, experiment.id) if experiment.started_at else None
    return render(
        request,
        "admin/experiments/results.html",
        {
            "experiment": experiment,
            "results": results,
            "chart": chart(results) if results else None,
            "may_write": principal.can(Permission.EXPERIMENTS_WRITE),
            "error": request.query_params.get("error"),
        },
    )


def chart(results: ExperimentResults) -> dict[str, Any]:
    """Bar and whisker geometry (in SVG user units) for the rate of each variant with its 95% interval."""
    rows = results.primary.variants
    intervals = [_rate_interval(row.conversions, row.exposures) for row in rows]
    top = max([1e-9] + [iv.high for iv in intervals if iv is not None] + [row.rate or 0.0 for row in rows])
    scale = (CHART_WIDTH - LABEL_WIDTH - 60) / top
    bars = []
    for index, (row, interval) in enumerate(zip(rows, intervals, strict=True)):
        y = 10 + index * (BAR_HEIGHT + 14)
        bars.append(
            {
                "variant": row.variant,
                "y": y,
                "width": (row.rate or 0.0) * scale,
                "rate": row.rate,
                "low": LABEL_WIDTH + interval.low * scale if interval else None,
                "high": LABEL_WIDTH + interval.high * scale if interval else None,
                "mid": y + BAR_HEIGHT / 2,
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": 20 + len(rows) * (BAR_HEIGHT + 14),
        "label_width": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
        "bars": bars,
    }


def _rate_interval(conversions: int, exposures: int) -> stats.Interval | None:
    """The rate's 95% normal (Wald) interval, clipped to [0, 1]: the chart's whiskers."""
    rate = stats.rate(conversions, exposures)
    spread = stats.rate_standard_error(conversions, exposures)
    if rate is None or spread is None:
        return None
    z = stats.normal_ppf(0.975)
    return stats.Interval(max(0.0, rate - z * spread), min(1.0, rate + z * spread))


async def _move(principal: Principal, service: ServiceDep, raw: str, *, start: bool) -> Response:
    wanted = _id(raw)
    try:
        if start:
            await service.start(principal, wanted)
        else:
            await service.stop(principal, wanted)
    except (Conflict, InvalidInput) as refused:
        return see_other(f"{HOME}/{wanted}?error={quote(refused.detail)}")
    return see_other(f"{HOME}/{wanted}")


@router.post(HOME + "/{experiment_id}/start")
async def start(request: Request, experiment_id: str, principal: Writer, service: ServiceDep) -> Response:
    return await _move(principal, service, experiment_id, start=True)


@router.post(HOME + "/{experiment_id}/stop")
async def stop(request: Request, experiment_id: str, principal: Writer, service: ServiceDep) -> Response:
    return await _move(principal, service, experiment_id, start=False)
