"""Experiment use cases: define, change, start, stop, delete, and read the results.

Life cycle: ``draft`` → ``running`` (start) → ``stopped`` (stop), no way back; results count the
exposures from ``started_at`` to ``stopped_at`` (or now). The flag must exist, with at least two
variants including the control, when an experiment is created, re-pointed or started. Once it
has started, what it measures (flag, control, primary metric) is fixed; the name, description,
minimum sample and secondary metrics may still change. Every change is audited.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from shelf.analytics.queries import ms_of
from shelf.audit.service import record
from shelf.experiments.errors import (
    DuplicateExperimentKey,
    ExperimentNotFound,
    InvalidTransition,
    NotAnExperimentFlag,
    UnknownControlVariant,
    UnknownFlag,
)
from shelf.experiments.flag_lookup import FlagVariant, FlagVariantsLookup
from shelf.experiments.models import Experiment, ExperimentStatus
from shelf.experiments.queries import Outcome
from shelf.experiments.results import metric_result, sample_ratio, variant_order, warnings_for
from shelf.experiments.schemas import (
    FIXED_ONCE_STARTED,
    ExperimentPage,
    ExperimentRead,
    ExperimentResults,
    ExperimentWrite,
    Metric,
)
from shelf.identity.permissions import Permission, Principal
from shelf.platform.clock import Clock
from shelf.platform.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from shelf.platform.ids import new_id
from shelf.uow import UnitOfWorkFactory


class ExperimentReader(Protocol):
    """The read side (``experiments.queries.SqlExperimentReader``), as the service uses it."""

    async def outcome(self, flag_key: str, metric: Metric, *, start_ms: int, end_ms: int) -> Outcome: ...


def etag_for(version: int) -> str:
    return f'"{version}"'


class ExperimentService:
    def __init__(
        self, uow: UnitOfWorkFactory, reader: ExperimentReader, flags: FlagVariantsLookup, clock: Clock
    ) -> None:
        self._uow = uow
        self._reader = reader
        self._flags = flags
        self._clock = clock

    # Definitions ------------------------------------------------------------------------------

    async def create(self, principal: Principal, payload: Any) -> ExperimentRead:
        principal.require(Permission.EXPERIMENTS_WRITE)
        data = ExperimentWrite.model_validate(_object(payload))
        await self._check_flag(data.flag_key, data.control_variant)
        async with self._uow() as uow:
            if await uow.experiments.key_taken(data.key):
                raise DuplicateExperimentKey(data.key)
            now = self._clock.now()
            experiment = Experiment(
                id=new_id(),
                **_columns(data),
                status=ExperimentStatus.DRAFT.value,
                started_at=None,
                stopped_at=None,
                created_at=now,
                updated_at=now,
                version=1,
            )
            uow.experiments.add(experiment)
            record(
                uow.audit,
                self._clock,
                principal,
                "experiment.create",
                entity=("experiment", experiment.id),
                after=_state(experiment),
            )
            try:
                await uow.commit()
            except IntegrityError:  # the same key, created concurrently
                raise DuplicateExperimentKey(data.key) from None
            return read_of(experiment)

    async def all(self, principal: Principal) -> ExperimentPage:
        principal.require(Permission.EXPERIMENTS_READ)
        async with self._uow() as uow:
            return ExperimentPage(items=[read_of(each) for each in await uow.experiments.all()])

    async def get(self, principal: Principal, experiment_id: uuid.UUID) -> ExperimentRead:
        principal.require(Permission.EXPERIMENTS_READ)
        async with self._uow() as uow:
            return read_of(await _found(uow.experiments.get(experiment_id)))

    async def update(
        self, principal: Principal, experiment_id: uuid.UUID, patch: Any, if_match: list[str] | None
    ) -> ExperimentRead:
        """An RFC 7386 merge patch of the definition, at the version the caller saw (``If-Match``)."""
        principal.require(Permission.EXPERIMENTS_WRITE)
        if not isinstance(patch, dict):
            raise InvalidInput(
                "a merge patch must be a JSON object", [{"field": "body", "message": "not an object"}]
            )
        async with self._uow() as uow:
            experiment = await _found(uow.experiments.get(experiment_id))
            _check_version(if_match, etag_for(experiment.version))
            current = ExperimentWrite.model_validate(_columns_of(experiment))
            merged = merge_patch(current.model_dump(mode="json"), patch)
            data = ExperimentWrite.model_validate(merged)  # a ValidationError is a 422 problem
            changed = {name for name, value in _columns(data).items() if getattr(experiment, name) != value}
            if not changed:
                return read_of(experiment)
            fixed = changed & FIXED_ONCE_STARTED
            if experiment.status != ExperimentStatus.DRAFT and fixed:
                raise InvalidTransition(experiment.status, f"changed in {', '.join(sorted(fixed))}")
            if data.key != experiment.key and await uow.experiments.key_taken(data.key):
                raise DuplicateExperimentKey(data.key)
            if changed & {"flag_key", "control_variant"}:
                await self._check_flag(data.flag_key, data.control_variant)
            before = _state(experiment)
            for name, value in _columns(data).items():
                setattr(experiment, name, value)
            experiment.version += 1
            experiment.updated_at = self._clock.now()
            record(
                uow.audit,
                self._clock,
                principal,
                "experiment.update",
                entity=("experiment", experiment.id),
                before=before,
                after=_state(experiment),
            )
            await _commit_versioned(uow)
            return read_of(experiment)

    async def delete(self, principal: Principal, experiment_id: uuid.UUID) -> None:
        principal.require(Permission.EXPERIMENTS_WRITE)
        async with self._uow() as uow:
            experiment = await _found(uow.experiments.get(experiment_id))
            if experiment.status == ExperimentStatus.RUNNING:
                raise InvalidTransition("running", "deleted: stop it first")
            record(
                uow.audit,
                self._clock,
                principal,
                "experiment.delete",
                entity=("experiment", experiment.id),
                before=_state(experiment),
            )
            await uow.experiments.delete(experiment)
            await uow.commit()

    # Life cycle -------------------------------------------------------------------------------

    async def start(self, principal: Principal, experiment_id: uuid.UUID) -> ExperimentRead:
        principal.require(Permission.EXPERIMENTS_WRITE)
        async with self._uow() as uow:
            experiment = await _found(uow.experiments.get(experiment_id))
            if experiment.status != ExperimentStatus.DRAFT:
                raise InvalidTransition(experiment.status, "started")
            await self._check_flag(experiment.flag_key, experiment.control_variant)
            return await self._move(uow, principal, experiment, ExperimentStatus.RUNNING)

    async def stop(self, principal: Principal, experiment_id: uuid.UUID) -> ExperimentRead:
        principal.require(Permission.EXPERIMENTS_WRITE)
        async with self._uow() as uow:
            experiment = await _found(uow.experiments.get(experiment_id))
            if experiment.status != ExperimentStatus.RUNNING:
                raise InvalidTransition(experiment.status, "stopped")
            return await self._move(uow, principal, experiment, ExperimentStatus.STOPPED)

    async def _move(
        self, uow: Any, principal: Principal, experiment: Experiment, status: ExperimentStatus
    ) -> ExperimentRead:
        before = _state(experiment)
        now = self._clock.now()
        experiment.status = status.value
        if status == ExperimentStatus.RUNNING:
            experiment.started_at = now
        else:
            experiment.stopped_at = now
        experiment.version += 1
        experiment.updated_at = now
        action = "experiment.start" if status == ExperimentStatus.RUNNING else "experiment.stop"
        record(
            uow.audit,
            self._clock,
            principal,
            action,
            entity=("experiment", experiment.id),
            before=before,
            after=_state(experiment),
        )
        await _commit_versioned(uow)
        return read_of(experiment)

    async def _check_flag(self, flag_key: str, control: str) -> list[FlagVariant]:
        variants = await self._flags.variants(flag_key)
        if variants is None:
            raise UnknownFlag(flag_key)
        if len(variants) < 2:
            raise NotAnExperimentFlag(flag_key)
        keys = [v.key for v in variants]
        if control not in keys:
            raise UnknownControlVariant(control, keys)
        return variants

    # Results ----------------------------------------------------------------------------------

    async def results(self, principal: Principal, experiment_id: uuid.UUID) -> ExperimentResults:
        principal.require(Permission.EXPERIMENTS_READ)
        experiment = await self.get(principal, experiment_id)
        if experiment.started_at is None:
            raise InvalidTransition("draft", "analysed: start it, and results follow the exposures")
        end = experiment.stopped_at or self._clock.now()
        window = {"start_ms": ms_of(experiment.started_at), "end_ms": ms_of(end) + 1}
        flag_variants = await self._flags.variants(experiment.flag_key)
        if not flag_variants:  # the flag is gone, or no longer multivariate: as the events say
            flag_variants = None
        primary = await self._reader.outcome(experiment.flag_key, experiment.primary_metric, **window)
        variants = variant_order(experiment.control_variant, flag_variants, list(primary.variants))
        exposures = {name: totals.exposures for name, totals in primary.variants.items()}
        unknown = {name: count for name, count in exposures.items() if name not in variants}
        srm = sample_ratio(variants, exposures, flag_variants)
        secondary = []
        for metric in experiment.secondary_metrics:
            outcome = await self._reader.outcome(experiment.flag_key, metric, **window)
            secondary.append(metric_result(metric, outcome, variants))
        return ExperimentResults(
            experiment_id=experiment.id,
            key=experiment.key,
            flag_key=experiment.flag_key,
            status=experiment.status,
            start=experiment.started_at,
            end=end,
            exposed=sum(exposures.get(name, 0) for name in variants),
            excluded_multiple_variants=primary.excluded,
            unknown_variants=unknown,
            sample_ratio=srm,
            primary=metric_result(experiment.primary_metric, primary, variants),
            secondary=secondary,
            warnings=warnings_for(
                variants=variants,
                exposures=exposures,
                minimum=experiment.minimum_sample,
                excluded=primary.excluded,
                unknown=unknown,
                srm=srm,
                flag_known=flag_variants is not None,
            ),
        )


def read_of(experiment: Experiment) -> ExperimentRead:
    return ExperimentRead.model_validate(
        {
            **_columns_of(experiment),
            "id": experiment.id,
            "status": experiment.status,
            "started_at": experiment.started_at,
            "stopped_at": experiment.stopped_at,
            "created_at": experiment.created_at,
            "updated_at": experiment.updated_at,
            "version": experiment.version,
        }
    )


def _columns(data: ExperimentWrite) -> dict[str, Any]:
    """The definition as column values (metrics as their JSON)."""
    dumped = data.model_dump(mode="json")
    return {name: dumped[name] for name in ExperimentWrite.model_fields}


def _columns_of(experiment: Experiment) -> dict[str, Any]:
    return {name: getattr(experiment, name) for name in ExperimentWrite.model_fields}


def _state(experiment: Experiment) -> dict[str, Any]:
    """What the audit log keeps: the definition and its life cycle."""
    return {
        **_columns_of(experiment),
        "status": experiment.status,
        "started_at": experiment.started_at.isoformat() if experiment.started_at else None,
        "stopped_at": experiment.stopped_at.isoformat() if experiment.stopped_at else None,
        "version": experiment.version,
    }


async def _found(pending: Any) -> Experiment:
    experiment: Experiment | None = await pending
    if experiment is None:
        raise ExperimentNotFound
    return experiment


async def _commit_versioned(uow: Any) -> None:
    try:
        await uow.commit()  # the version column guards against a concurrent change
    except StaleDataError:
        raise PreconditionFailed(
            "this experiment was changed by someone else meanwhile: read it again"
        ) from None


def _check_version(if_match: list[str] | None, current: str) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "send 'If-Match' with the ETag you last read, so concurrent edits are not lost"
        )
    if "*" not in if_match and current not in if_match:
        raise PreconditionFailed(
            "the experiment changed since you read it: fetch it again and reapply your change",
            current_etag=current,
        )


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput(
            "the body must be a JSON object", [{"field": "body", "message": "expected an object"}]
        )
    return payload


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch: objects merge recursively, ``null`` removes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
