"""Flag use cases: manage definitions (audited, at a version), and evaluate them for Shelf's own
code (``is_enabled``, ``variant``), for OFREP clients, and for feedback (``variants_for``).

Definitions. Evaluations read a compiled snapshot of every flag held in this process. It is valid
while the cache namespace ``flags:definitions`` keeps its token and for at most
``definitions_ttl_seconds``: every write invalidates the namespace once its transaction has
committed, which with Redis reaches every instance at once (``platform.cache``), and the TTL bounds
staleness where the cache cannot tell (no Redis, several workers). A reload takes the definitions'
bytes from the cache, or the database on a miss; one load runs at a time.

Exposures. An evaluation for a known user (a ``targetingKey``) emits ``$feature_flag_called`` with
``$feature_flag`` and ``$feature_flag_response`` (the variant, or the boolean) once per user,
flag and response: a bounded LRU set in this process remembers what was sent (ADR 0014).

Staleness. Evaluated keys are remembered in memory and written to ``last_evaluated_at`` in one
UPDATE at most once per ``touch_interval_seconds`` (and when the process stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import structlog
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from shelf.analytics.emitter import EventEmitter, NullEmitter
from shelf.audit.service import record
from shelf.flags.errors import DuplicateFlagKey, FlagNotFound
from shelf.flags.evaluation import (
    CompiledFlag,
    ErrorCode,
    Evaluation,
    compile_flag,
    evaluate,
    expect_type,
    failure,
)
from shelf.flags.models import Flag
from shelf.flags.schemas import FlagList, FlagRead, FlagWrite
from shelf.identity.permissions import Permission, Principal
from shelf.monitoring.metrics import FLAG_EVALUATIONS
from shelf.platform.cache import Cache, SingleFlight
from shelf.platform.clock import Clock
from shelf.platform.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from shelf.platform.ids import new_id
from shelf.uow import UnitOfWorkFactory

log = structlog.get_logger(__name__)

NAMESPACE = "flags:definitions"
EXPOSURE_EVENT = "$feature_flag_called"
FLAG_PROPERTY = "$feature_flag"
RESPONSE_PROPERTY = "$feature_flag_response"
STALE_AFTER = timedelta(days=30)


def etag_for(version: int) -> str:
    return f'"{version}"'


def plain_json(value: Any) -> Any:
    """A body read by ``read_json`` (decimals exact) as plain JSON types: flags compare floats."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value


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


def check_version(if_match: list[str] | None, current: str) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "send 'If-Match' with the ETag you last read, so concurrent edits are not lost"
        )
    if "*" not in if_match and current not in if_match:
        raise PreconditionFailed(
            "the flag changed since you read it: fetch it again and reapply your change", current_etag=current
        )


def definition_of(flag: Flag) -> FlagWrite:
    return FlagWrite.model_validate(
        {
            "key": flag.key,
            "description": flag.description,
            "type": flag.type,
            "enabled": flag.enabled,
            "rollout": flag.rollout,
            "variants": flag.variants,
            "rules": flag.rules,
        }
    )


def _columns(data: FlagWrite) -> dict[str, Any]:
    dumped = data.model_dump(mode="json")
    return {name: dumped[name] for name in ("description", "type", "enabled", "rollout", "variants", "rules")}


def _audited(flag: Flag) -> dict[str, Any]:
    return {**definition_of(flag).model_dump(mode="json"), "version": flag.version}


@dataclass(frozen=True, slots=True)
class Snapshot:
    token: str
    flags: Mapping[str, CompiledFlag]
    digest: str  # of every definition: part of the bulk evaluation's ETag
    loaded_at: float


@dataclass(frozen=True, slots=True)
class Unparsable:
    """A request body that is not JSON: OFREP answers it with ``PARSE_ERROR``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Bulk:
    """A bulk evaluation: the ETag, and the answers (``None`` when the client's ETag matched),
    or the ``error`` that refused the whole request."""

    etag: str | None
    evaluations: list[Evaluation] | None
    error: Evaluation | None = None


def bulk_etag(digest: str, context: Mapping[str, Any]) -> str:
    try:
        encoded = orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # pragma: no cover - a parsed JSON body always encodes
        encoded = repr(sorted(context.items())).encode()
    return f'"{digest}.{hashlib.blake2b(encoded, digest_size=12).hexdigest()}"'


class ExposureLog:
    """The (user, flag, response) triples already sent, the most recent ``capacity`` of them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str, bool | str], None] = OrderedDict()

    def first_time(self, distinct_id: str, flag: str, response: bool | str) -> bool:
        entry = (distinct_id, flag, response)
        if entry in self._seen:
            self._seen.move_to_end(entry)
            return False
        self._seen[entry] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._seen)


class FlagsService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        cache: Cache,
        events: EventEmitter | None = None,
        definitions_ttl_seconds: float = 5.0,
        exposure_capacity: int = 100_000,
        touch_interval_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cache = cache
        self._events = events or NullEmitter()
        self._ttl = definitions_ttl_seconds
        self._monotonic = monotonic
        self._snapshot: Snapshot | None = None
        self._flight = SingleFlight()
        self._writes = 0
        self.exposures = ExposureLog(exposure_capacity)
        self._touched: set[str] = set()
        self._touch_interval = touch_interval_seconds
        self._last_touch = monotonic()
        self._touch_task: asyncio.Task[None] | None = None
        self._counters: dict[tuple[str, str | None, str], Counter] = {}  # FLAG_EVALUATIONS' children

    # Managing flags -----------------------------------------------------------------------------

    async def list_flags(self, principal: Principal) -> FlagList:
        principal.require(Permission.FLAGS_READ)
        async with self._uow() as uow:
            flags = await uow.flags.all()
        now = self._clock.now()
        return FlagList(items=[self._read(flag, now) for flag in flags])

    async def get_flag(self, principal: Principal, key: str) -> FlagRead:
        principal.require(Permission.FLAGS_READ)
        async with self._uow() as uow:
            flag = await uow.flags.get(key)
        if flag is None:
            raise FlagNotFound(key)
        return self._read(flag, self._clock.now())

    async def create_flag(self, principal: Principal, payload: Any) -> FlagRead:
        principal.require(Permission.FLAGS_WRITE)
        data = FlagWrite.model_validate(plain_json(payload))
        async with self._uow() as uow:
            if await uow.flags.get(data.key) is not None:
                raise DuplicateFlagKey(data.key)
            now = self._clock.now()
            flag = Flag(
                id=new_id(),
                key=data.key,
                version=1,
                created_at=now,
                updated_at=now,
                updated_by=principal.name,
                last_evaluated_at=None,
                fully_rolled_out_at=now if data.fully_rolled_out else None,
                **_columns(data),
            )
            uow.flags.add(flag)
            record(
                uow.audit,
                self._clock,
                principal,
                "flag.create",
                entity=("flag", flag.key),
                after=_audited(flag),
            )
            try:
                await uow.commit()
            except IntegrityError:
                raise DuplicateFlagKey(data.key) from None
        await self.forget_definitions()
        return self._read(flag, now)

    async def update_flag(
        self, principal: Principal, key: str, patch: Any, if_match: list[str] | None
    ) -> FlagRead:
        """A JSON merge patch (RFC 7386) at the version ``If-Match`` names."""
        principal.require(Permission.FLAGS_WRITE)
        if not isinstance(patch, dict):
            raise InvalidInput(
                "a merge patch must be a JSON object",
                [{"field": "body", "message": "expected a JSON object"}],
            )
        return await self._write(
            principal, key, if_match, lambda current: merge_patch(current, plain_json(patch))
        )

    async def replace_flag(
        self, principal: Principal, key: str, payload: Any, if_match: list[str] | None
    ) -> FlagRead:
        """The whole flag as ``payload`` says (the console's edit form), at the version it was read at."""
        principal.require(Permission.FLAGS_WRITE)
        return await self._write(
            principal, key, if_match, lambda _current: {**plain_json(payload), "key": key}
        )

    async def _write(
        self,
        principal: Principal,
        key: str,
        if_match: list[str] | None,
        new_state: Callable[[dict[str, Any]], Any],
    ) -> FlagRead:
        async with self._uow() as uow:
            flag = await uow.flags.get(key)
            if flag is None:
                raise FlagNotFound(key)
            check_version(if_match, etag_for(flag.version))
            current = definition_of(flag)
            wanted = new_state(current.model_dump(mode="json"))
            if isinstance(wanted, dict) and wanted.get("key", key) != key:
                raise InvalidInput(
                    "a flag's key cannot change: create a new flag instead",
                    [{"field": "key", "in": "body", "message": "must stay " + key}],
                )
            updated = FlagWrite.model_validate(wanted)
            now = self._clock.now()
            if updated == current:
                return self._read(flag, now)
            before = _audited(flag)
            for name, value in _columns(updated).items():
                setattr(flag, name, value)
            if not updated.fully_rolled_out:
                flag.fully_rolled_out_at = None
            elif flag.fully_rolled_out_at is None:
                flag.fully_rolled_out_at = now
            flag.version += 1
            flag.updated_at = now
            flag.updated_by = principal.name
            record(
                uow.audit,
                self._clock,
                principal,
                "flag.update",
                entity=("flag", flag.key),
                before=before,
                after=_audited(flag),
            )
            try:
                await uow.commit()
            except StaleDataError:
                raise PreconditionFailed(
                    "the flag changed while your update was applied: fetch it again"
                ) from None
        await self.forget_definitions()
        return self._read(flag, now)

    async def delete_flag(self, principal: Principal, key: str, if_match: list[str] | None) -> None:
        principal.require(Permission.FLAGS_WRITE)
        async with self._uow() as uow:
            flag = await uow.flags.get(key)
            if flag is None:
                raise FlagNotFound(key)
            check_version(if_match, etag_for(flag.version))
            record(
                uow.audit,
                self._clock,
                principal,
                "flag.delete",
                entity=("flag", flag.key),
                before=_audited(flag),
            )
            await uow.flags.delete(flag)
            try:
                await uow.commit()
            except StaleDataError:
                raise PreconditionFailed("the flag changed while it was being deleted") from None
        await self.forget_definitions()

    async def definition(self, key: str) -> FlagWrite | None:
        """A flag's definition as stored now, or ``None``: for Shelf's own features (experiments
        check the variants of the flag they run on). No permission check: the feature asking checks
        its own caller's."""
        async with self._uow() as uow:
            flag = await uow.flags.get(key)
        return definition_of(flag) if flag is not None else None

    def _read(self, flag: Flag, now: datetime) -> FlagRead:
        reason = stale_reason(flag, now)
        return FlagRead(
            **definition_of(flag).model_dump(),
            version=flag.version,
            created_at=flag.created_at,
            updated_at=flag.updated_at,
            updated_by=flag.updated_by,
            last_evaluated_at=flag.last_evaluated_at,
            stale=reason is not None,
            stale_reason=reason,
        )

    async def forget_definitions(self) -> None:
        """After a commit (or when the table was changed behind the service's back): every instance
        reloads the definitions before its next evaluation."""
        self._writes += 1
        self._snapshot = None
        await self._cache.invalidate(NAMESPACE)

    # Evaluating flags ---------------------------------------------------------------------------

    async def evaluate(self, key: str, context: Any, *, expose: bool = True) -> Evaluation:
        snapshot = await self._definitions()
        result = evaluate(snapshot.flags.get(key), key, context)
        await self._record((result,), context, expose)
        return result

    async def evaluate_all(self, context: Any, *, expose: bool = True) -> tuple[list[Evaluation], str]:
        """Every flag for ``context``, by key, and a digest of the definitions they came from."""
        snapshot = await self._definitions()
        results = [evaluate(flag, key, context) for key, flag in snapshot.flags.items()]
        await self._record(results, context, expose)
        return results, snapshot.digest

    async def is_enabled(self, key: str, context: Mapping[str, Any]) -> bool:
        """A boolean flag's answer for ``context``; ``False`` when it cannot be evaluated."""
        result = expect_type(await self.evaluate(key, context), bool)
        if result.failed:
            log.warning("flag_evaluation_failed", flag=key, error_code=result.error_code)
            return False
        return result.value is True

    async def variant(self, key: str, context: Mapping[str, Any], *, expose: bool = True) -> str | None:
        """A multivariate flag's variant for ``context``; ``None`` when it cannot be evaluated.
        ``expose=False`` for a visitor who must not be measured (Do-Not-Track, no consent)."""
        result = expect_type(await self.evaluate(key, context, expose=expose), str)
        if result.failed:
            log.warning("flag_evaluation_failed", flag=key, error_code=result.error_code)
            return None
        return result.variant

    async def variants_for(self, context: Mapping[str, Any]) -> dict[str, str]:
        """Flag key to variant for every flag this context gets a variant of (no exposures: for
        attributing feedback to what the visitor saw, not for counting who saw it)."""
        results, _ = await self.evaluate_all(context, expose=False)
        return {r.key: r.variant for r in results if not r.failed and r.variant is not None}

    async def preview(self, principal: Principal, key: str, context: Any) -> Evaluation:
        """The console's "evaluate for this context": no exposure, no last-evaluated mark."""
        principal.require(Permission.FLAGS_READ)
        snapshot = await self._definitions()
        return evaluate(snapshot.flags.get(key), key, context)

    async def ofrep_evaluate(self, principal: Principal, key: str, context: Any) -> Evaluation:
        """One flag for an OFREP client; ``context`` may be an ``Unparsable`` request body."""
        principal.require(Permission.FLAGS_EVALUATE)
        if isinstance(context, Unparsable):
            return failure(key, ErrorCode.PARSE_ERROR, context.reason)
        return await self.evaluate(key, context)

    async def ofrep_evaluate_all(
        self, principal: Principal, context: Any, known_etags: list[str] | None = None
    ) -> Bulk:
        """Every flag for an OFREP client, or only the ETag when it is one the client holds.

        The answers depend on nothing but the definitions and the context, so the ETag is a
        digest of both and a client polling with ``If-None-Match`` costs no evaluation at all.
        """
        principal.require(Permission.FLAGS_EVALUATE)
        if isinstance(context, Unparsable):
            return Bulk(etag=None, evaluations=None, error=failure("", ErrorCode.PARSE_ERROR, context.reason))
        if not isinstance(context, Mapping):
            message = "the context must be a JSON object"
            return Bulk(etag=None, evaluations=None, error=failure("", ErrorCode.INVALID_CONTEXT, message))
        snapshot = await self._definitions()
        etag = bulk_etag(snapshot.digest, context)
        if known_etags is not None and (etag in known_etags or "*" in known_etags):
            return Bulk(etag=etag, evaluations=None)
        evaluations = [evaluate(flag, key, context) for key, flag in snapshot.flags.items()]
        await self._record(evaluations, context, expose=True)
        return Bulk(etag=etag, evaluations=evaluations)

    async def _record(self, results: Sequence[Evaluation], context: Any, expose: bool) -> None:
        """Count the evaluations, mark their flags evaluated, send the exposures not sent before.

        Counting and marking stay in memory (the metric's children are kept per label set, the
        marks are written in batches), so only a first exposure awaits anything.
        """
        touched = self._touched
        for result in results:
            self._counter(result).inc()
            if result.error_code is not ErrorCode.FLAG_NOT_FOUND:
                touched.add(result.key)
        if self._touch_task is None and self._monotonic() - self._last_touch >= self._touch_interval:
            self._touch_task = asyncio.create_task(self._touch())
        if not expose:
            return
        distinct_id = context.get("targetingKey") if isinstance(context, Mapping) else None
        if not isinstance(distinct_id, str) or not distinct_id:
            return
        for result in results:
            if result.error_code is not None:
                continue
            response = result.exposure
            if self.exposures.first_time(distinct_id, result.key, response):
                await self._events.emit(
                    EXPOSURE_EVENT, distinct_id, {FLAG_PROPERTY: result.key, RESPONSE_PROPERTY: response}
                )

    def _counter(self, result: Evaluation) -> Counter:
        """The metric's child for this answer's labels, looked up once per label set."""
        labels = (result.key, result.variant, result.reason)
        counter = self._counters.get(labels)
        if counter is None:
            if result.error_code is ErrorCode.FLAG_NOT_FOUND:
                # A client's unknown key is not a label value: it would grow the series without bound.
                return FLAG_EVALUATIONS.labels(flag="", variant="", reason=result.reason.value)
            counter = FLAG_EVALUATIONS.labels(
                flag=result.key, variant=result.variant or "", reason=result.reason.value
            )
            self._counters[labels] = counter
        return counter

    async def _touch(self) -> None:
        try:
            await self.flush_evaluated()
        finally:
            self._touch_task = None

    async def flush_evaluated(self) -> None:
        """Write ``last_evaluated_at`` for every flag evaluated since the last batch."""
        self._last_touch = self._monotonic()
        keys, self._touched = self._touched, set()
        if not keys:
            return
        try:
            async with self._uow() as uow:
                await uow.flags.mark_evaluated(keys, self._clock.now())
                await uow.commit()
        except Exception:  # a failed batch must never fail an evaluation; the next one retries
            log.exception("flags_mark_evaluated_failed", flags=len(keys))
            self._touched |= keys

    async def aclose(self) -> None:
        if self._touch_task is not None:
            with contextlib.suppress(Exception):
                await self._touch_task
        await self.flush_evaluated()

    async def _definitions(self) -> Snapshot:
        token = await self._cache.scope(NAMESPACE)
        snapshot = self._snapshot
        if (
            snapshot is not None
            and snapshot.token == token
            and self._monotonic() - snapshot.loaded_at < self._ttl
        ):
            return snapshot
        return await self._flight.run(f"{token}@{self._writes}", lambda: self._reload(token))

    async def _reload(self, token: str) -> Snapshot:
        writes = self._writes
        key = token + "all"
        raw = await self._cache.get(key)
        if raw is None:
            async with self._uow() as uow:
                flags = await uow.flags.all()
                raw = orjson.dumps([definition_of(flag).model_dump(mode="json") for flag in flags])
            if self._writes == writes:
                await self._cache.set(key, raw, max(self._ttl, 1.0))
        digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
        previous = self._snapshot
        # Unchanged definitions (the TTL ran out, nobody wrote): the compiled flags are kept, with
        # what their conditions remember (regex answers), instead of being compiled again.
        same = previous is not None and previous.digest == digest
        snapshot = Snapshot(
            token=token,
            flags=previous.flags if previous is not None and same else _compile_all(raw),
            digest=digest,
            loaded_at=self._monotonic(),
        )
        if self._writes == writes:
            self._snapshot = snapshot
        return snapshot


def _compile_all(raw: bytes) -> dict[str, CompiledFlag]:
    compiled = {}
    for item in orjson.loads(raw):
        try:
            definition = FlagWrite.model_validate(item)
        except ValidationError:  # pragma: no cover - every stored definition was validated first
            log.exception("flag_definition_invalid", flag=item.get("key"))
            continue
        compiled[definition.key] = compile_flag(definition)
    return compiled


def stale_reason(flag: Flag, now: datetime) -> str | None:
    """Why the console marks the flag stale: not evaluated for 30 days (or never, 30 days after
    it was created), or on for everyone for 30 days; ``None`` when it is not."""
    if now - (flag.last_evaluated_at or flag.created_at) >= STALE_AFTER:
        return "not_evaluated"
    if flag.fully_rolled_out_at is not None and now - flag.fully_rolled_out_at >= STALE_AFTER:
        return "fully_rolled_out"
    return None
