"""The print queue and the printer's settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.store import raw
from pos_app.store.models import PrinterSetting, PrintJob


def printer_setting(session: Session, name: str) -> PrinterSetting | None:
    """The stored settings of the printer called ``name``, or None."""
    return session.get(PrinterSetting, name)


def printer_setting_for_update(session: Session, name: str) -> PrinterSetting:
    """The settings row of printer ``name`` to change: the stored one, or a new one added."""
    row = session.get(PrinterSetting, name)
    if row is None:
        row = PrinterSetting(name=name)
        session.add(row)
    return row


def insert_job(session: Session, values: Mapping[str, Any]) -> int:
    """Queue a job; returns its id (a constant INSERT on the session's connection: this
    runs inside every checkout)."""
    job_id = raw.insert_rows(session, PrintJob, [values])
    assert job_id is not None  # one row inserted
    return job_id


def get_job(session: Session, job_id: int) -> PrintJob | None:
    """The job, or None."""
    return session.get(PrintJob, job_id)


def head_job(session: Session) -> PrintJob | None:
    """The oldest pending job (the next to print), or None."""
    return session.scalars(
        select(PrintJob).where(PrintJob.status == "pending").order_by(PrintJob.id).limit(1)
    ).first()


def recent_jobs(session: Session, status: str | None, limit: int) -> list[PrintJob]:
    """The newest jobs first (only those with ``status`` when given)."""
    query = select(PrintJob).order_by(PrintJob.id.desc()).limit(limit)
    if status is not None:
        query = query.where(PrintJob.status == status)
    return list(session.scalars(query))


def jobs_of(session: Session, ref_id: str) -> list[PrintJob]:
    """Every job of one sale or refund, oldest first."""
    return list(
        session.scalars(select(PrintJob).where(PrintJob.ref_id == ref_id).order_by(PrintJob.id))
    )


def unfinished_counts(session: Session) -> dict[str, int]:
    """Jobs per status, ``done`` left out."""
    rows = session.execute(
        select(PrintJob.status, func.count())
        .where(PrintJob.status != "done")
        .group_by(PrintJob.status)
    ).all()
    return {status: int(n) for status, n in rows}
