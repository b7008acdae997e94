"""The arena's tables (migration ``0007_arena``): battles with their votes, and competitions or categories added
through the admin API (the packaged ones live in ``arena/data``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from imagegate.store.models import Base, UTCDateTime


class ArenaBattleRow(Base):
    """One battle: generated here (``source='arena'``: pooled, served, then voted) or imported (FastChat format).

    ``model_a`` is the left-hand image. ``counted`` is set when a vote is recorded on an anonymous battle whose
    names were not revealed first; only counted battles enter the boards, in ``counted_at`` order (the server's
    clock at the vote or import: battles are voted in any order, so ids are no watermark).
    """

    __tablename__ = "arena_battles"
    __table_args__ = (
        Index("ix_arena_battles_pool", "status", "task"),
        Index("ix_arena_battles_voter_voted", "voter", "voted_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # arena | import
    task: Mapped[str] = mapped_column(String(32))
    competition: Mapped[str | None] = mapped_column(String(80), index=True)
    prompt: Mapped[str | None] = mapped_column(Text)
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[str] = mapped_column(String(200))
    image_a: Mapped[str | None] = mapped_column(String(200))  # blob token + extension
    image_b: Mapped[str | None] = mapped_column(String(200))
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))  # pooled | served | voted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voter: Mapped[str | None] = mapped_column(String(100))
    winner: Mapped[str | None] = mapped_column(String(16))  # model_a | model_b | tie | tie (bothbad)
    anony: Mapped[bool] = mapped_column(Boolean, default=True)
    counted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # when it entered the boards
    judge: Mapped[str | None] = mapped_column(String(200))
    question_id: Mapped[str | None] = mapped_column(String(200))
    tstamp: Mapped[float | None] = mapped_column(Float)


class ArenaDefinitionRow(Base):
    """A competition or category added through the admin API, as its validated JSON."""

    __tablename__ = "arena_definitions"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # competition | category
    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
