"""The flags table: one row per flag, its targeting kept as validated JSON (``flags.schemas``).

``last_evaluated_at`` is written in batches by the service (at most once a minute per process), and
``fully_rolled_out_at`` is set when a change leaves the flag on for everyone (enabled, 100 %, no
rules) and cleared by any change that does not: both feed the console's "stale" mark.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Integer, SmallInteger, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shelf.platform.db import Base
from shelf.platform.types import UtcDateTime


class Flag(Base):
    __tablename__ = "flags"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    rollout: Mapped[int] = mapped_column(SmallInteger)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(320))
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fully_rolled_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("rollout BETWEEN 0 AND 100", name="ck_flags_rollout"),)
    # As for products: every UPDATE says "WHERE version = :seen", so concurrent edits conflict.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012
