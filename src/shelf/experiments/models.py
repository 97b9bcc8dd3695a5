"""The experiments table. An experiment names its flag by key, not by a foreign key: flags live in
their own feature, and an experiment's results stay readable after its flag is deleted."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shelf.platform.db import Base
from shelf.platform.types import UtcDateTime


class ExperimentStatus(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    flag_key: Mapped[str] = mapped_column(String(64))
    control_variant: Mapped[str] = mapped_column(String(100))
    # A metric as its schema's JSON (schemas.Metric): {"kind", "event", "window_seconds", "property"}.
    primary_metric: Mapped[dict[str, Any]] = mapped_column(JSON)
    secondary_metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    minimum_sample: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ExperimentStatus.DRAFT.value)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # As for products: every UPDATE says "WHERE version = :seen", so concurrent edits conflict.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012
