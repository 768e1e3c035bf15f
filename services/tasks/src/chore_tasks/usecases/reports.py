"""Reporting a task or an offer, and the admin's queue of reports.

Only someone who can see the object may report it: a task the reporter may not see, or an
offer that is neither theirs nor on their task, is 404 like a missing one.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from chore_common.paging import Page, PageKey
from chore_common.reports.rules import InvalidReportTransition, ReportAction
from chore_tasks.domain import policies, reports
from chore_tasks.domain.errors import OfferNotFound, ReportNotFound
from chore_tasks.domain.model import Actor, Offer, Task
from chore_tasks.domain.reports import Report
from chore_tasks.usecases.access import check_limit, task_offer, visible_task
from chore_tasks.usecases.ports import ReportFilter, TasksUnitOfWork


async def report(
    uow: TasksUnitOfWork,
    actor: Actor,
    task_id: UUID,
    *,
    offer_id: UUID | None,
    reason: str,
    now: datetime,
) -> Report:
    """File the actor's report of the task, or of one of its offers."""
    async with uow:
        task = await visible_task(uow, task_id, actor)
        offer = None if offer_id is None else await _visible_offer(uow, task, offer_id, actor)
        filed = reports.file_report(
            task, offer, report_id=uuid4(), reporter=actor, reason=reason, now=now
        )
        await uow.reports.add(filed)
        await uow.commit()
    return filed


async def _visible_offer(uow: TasksUnitOfWork, task: Task, offer_id: UUID, actor: Actor) -> Offer:
    offer = await task_offer(uow, task, offer_id)
    if actor.user_id not in (task.owner_id, offer.tasker_id) and not actor.is_admin:
        raise OfferNotFound(f"no offer {offer_id} on task {task.id}")
    return offer


async def list_reports(
    uow: TasksUnitOfWork, actor: Actor, *, closed: bool, limit: int, after: PageKey | None
) -> Page[Report]:
    policies.ensure_admin(actor)
    check_limit(limit)
    async with uow:
        return await uow.reports.list(ReportFilter(closed=closed, limit=limit, after=after))


async def close_report(
    uow: TasksUnitOfWork,
    actor: Actor,
    report_id: UUID,
    action: ReportAction,
    *,
    note: str,
    now: datetime,
) -> Report:
    """Dismiss or resolve an open report (admins); a second answer is 409."""
    policies.ensure_admin(actor)
    async with uow:
        found = await uow.reports.get(report_id)
        if found is None:
            raise ReportNotFound(f"no report {report_id}")
        closed = reports.close_report(found, action, by=actor, note=note, now=now)
        if not await uow.reports.close(closed):
            # Another admin answered it between our read and write.
            raise InvalidReportTransition(closed.status, action)
        await uow.commit()
    return closed
