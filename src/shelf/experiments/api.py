"""REST routes of experiments. Each one parses, calls one service function, shapes the response."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from starlette.responses import Response

from shelf.experiments.schemas import ExperimentPage, ExperimentRead, ExperimentResults, ExperimentWrite
from shelf.experiments.service import ExperimentService, etag_for
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import MERGE_PATCH_TYPES, JSONResponse, parse_etags, read_json

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])
PATH = router.prefix


async def _experiments(request: Request) -> ExperimentService:
    service: ExperimentService = request.app.state.container.experiments
    return service


ExperimentsDep = Annotated[ExperimentService, Depends(_experiments)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _one(experiment: ExperimentRead, status_code: int = 200) -> Response:
    headers = {"ETag": etag_for(experiment.version)}
    if status_code == 201:
        headers["Location"] = f"{PATH}/{experiment.id}"
    return JSONResponse(experiment.model_dump(mode="json"), status_code=status_code, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=ExperimentRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ExperimentWrite.model_json_schema()}},
        }
    },
    summary="Define an experiment on a multivariate flag (a draft until started)",
)
async def create_experiment(
    request: Request, experiments: ExperimentsDep, principal: PrincipalDep
) -> Response:
    principal.require_authenticated()
    created = await experiments.create(principal, await read_json(request))
    return _one(created, 201)


@router.get("", response_model=ExperimentPage, summary="List experiments, newest first")
async def list_experiments(experiments: ExperimentsDep, principal: PrincipalDep) -> Response:
    page = await experiments.all(principal)
    return JSONResponse(page.model_dump(mode="json"))


@router.get("/{experiment_id}", response_model=ExperimentRead, summary="Read one experiment")
async def get_experiment(
    experiment_id: uuid.UUID, experiments: ExperimentsDep, principal: PrincipalDep
) -> Response:
    return _one(await experiments.get(principal, experiment_id))


@router.patch(
    "/{experiment_id}",
    response_model=ExperimentRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
        }
    },
    summary="Change an experiment (merge patch, needs If-Match)",
)
async def update_experiment(
    experiment_id: uuid.UUID,
    request: Request,
    experiments: ExperimentsDep,
    principal: PrincipalDep,
    if_match: IfMatch = None,
) -> Response:
    principal.require_authenticated()
    body = await read_json(request, MERGE_PATCH_TYPES)
    return _one(await experiments.update(principal, experiment_id, body, parse_etags(if_match)))


@router.delete("/{experiment_id}", status_code=204, summary="Delete a draft or stopped experiment")
async def delete_experiment(
    experiment_id: uuid.UUID, experiments: ExperimentsDep, principal: PrincipalDep
) -> Response:
    await experiments.delete(principal, experiment_id)
    return Response(status_code=204)


@router.post("/{experiment_id}/start", response_model=ExperimentRead, summary="Start a draft experiment")
async def start_experiment(
    experiment_id: uuid.UUID, experiments: ExperimentsDep, principal: PrincipalDep
) -> Response:
    return _one(await experiments.start(principal, experiment_id))


@router.post("/{experiment_id}/stop", response_model=ExperimentRead, summary="Stop a running experiment")
async def stop_experiment(
    experiment_id: uuid.UUID, experiments: ExperimentsDep, principal: PrincipalDep
) -> Response:
    return _one(await experiments.stop(principal, experiment_id))


@router.get(
    "/{experiment_id}/results",
    response_model=ExperimentResults,
    summary="Results per variant: exposures, conversions, lift with its 95% interval, chance to win, SRM",
)
async def experiment_results(
    experiment_id: uuid.UUID, experiments: ExperimentsDep, principal: PrincipalDep
) -> Response:
    results = await experiments.results(principal, experiment_id)
    return JSONResponse(results.model_dump(mode="json"))
