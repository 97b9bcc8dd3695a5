"""The feedback table. ``product_id`` is deliberately not a foreign key: feedback outlives the
product it is about (a deleted product's feedback keeps its id, and reads show it as deleted)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, Integer, SmallInteger, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shelf.platform.db import Base
from shelf.platform.types import UtcDateTime


class FeedbackStatus(enum.StrEnum):
    NEW = "new"
    PLANNED = "planned"
    DONE = "done"
    WONT_DO = "wont_do"


class FeedbackSource(enum.StrEnum):
    STOREFRONT = "storefront"  # Shelf's own pages, a shopper with the page's form token
    APP = "app"  # a program with a key or token (a client app, a script of staff)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(254))  # personal data: erased after retention
    page: Mapped[str | None] = mapped_column(String(512))
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    variants: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    distinct_id: Mapped[str] = mapped_column(String(200))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(16))
    submitted_by: Mapped[str | None] = mapped_column(String(80))  # the key or user of an app submission
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default=FeedbackStatus.NEW.value)
    note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    triaged_by: Mapped[str | None] = mapped_column(String(320))

    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
        # The inbox lists newest first, optionally by product or status (keyset on created_at, id).
        Index("ix_feedback_created", "created_at", "id"),
        Index("ix_feedback_product_created", "product_id", "created_at", "id"),
        Index("ix_feedback_status_created", "status", "created_at", "id"),
    )
    # As for products: every UPDATE says "WHERE version = :seen", so a concurrent triage conflicts.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012
