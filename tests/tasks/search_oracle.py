"""The brute-force answer to a browse query: every rule of `TaskFilter` in plain Python.

The property tests compare the database's pages with it, and the unit tests' fake
repository answers with it. Relevance is only approximated (words found in the title count
double): backends rank their own way, so tests compare relevance pages as sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from chore_tasks.domain import policies
from chore_tasks.domain.model import Task
from chore_tasks.domain.search import DESCENDING, NO_DUE, SearchKey, Sort, haversine_km, terms
from chore_tasks.usecases.ports import SearchPage, TaskFilter


def distance_km(task: Task, query: TaskFilter) -> float | None:
    near, where = query.near, task.location
    if near is None or where is None or where.lat is None or where.lon is None:
        return None
    return haversine_km(near.lat, near.lon, where.lat, where.lon)


def matches(task: Task, query: TaskFilter, offered: set[UUID]) -> bool:
    if not policies.can_view(task, query.viewer, has_offered=task.id in offered):
        return False
    due = task.due_at
    tests = [
        query.status in (None, task.status),
        not query.categories or task.category in query.categories,
        query.owner_id in (None, task.owner_id),
        query.assignee_id is None or query.assignee_id == task.assignee_id,
        query.budget_min is None or task.budget_cents >= query.budget_min,
        query.budget_max is None or task.budget_cents <= query.budget_max,
        query.due_after is None or (due is not None and due >= query.due_after),
        query.due_before is None or (due is not None and due <= query.due_before),
        set(query.words) <= set(terms(f"{task.title} {task.description}")),
    ]
    if query.near is not None:
        distance = distance_km(task, query)
        tests.append(distance is not None and distance <= query.near.radius_km)
    return all(tests)


def sort_value(task: Task, query: TaskFilter) -> Any:
    if query.sort is Sort.BUDGET:
        return task.budget_cents
    if query.sort is Sort.DUE:
        return task.due_at or NO_DUE
    if query.sort is Sort.DISTANCE:
        return distance_km(task, query)
    if query.sort is Sort.RELEVANCE:
        title = terms(task.title)
        return float(sum(2 if word in title else 1 for word in query.words))
    return task.created_at


def ordered(tasks: Iterable[Task], query: TaskFilter, offered: set[UUID]) -> list[Task]:
    """Every match, in the query's order (ties by id), ignoring `after` and `limit`."""
    found = [t for t in tasks if matches(t, query, offered)]
    return sorted(
        found, key=lambda t: (sort_value(t, query), t.id), reverse=query.sort in DESCENDING
    )


def _beyond(key: tuple[Any, UUID], mark: tuple[Any, UUID], descending: bool) -> bool:
    return key < mark if descending else key > mark


def page(tasks: Iterable[Task], query: TaskFilter, offered: set[UUID]) -> SearchPage:
    """The page the repository answers: after `query.after`, at most `query.limit`."""
    rows = ordered(tasks, query, offered)
    after = query.after
    if after is not None:
        mark = (after.value, after.id)
        descending = query.sort in DESCENDING
        rows = [
            t
            for t in rows
            if (
                (sort_value(t, query), t.id) < mark
                if descending
                else (sort_value(t, query), t.id) > mark
            )
        ]
    items = rows[: query.limit]
    if len(rows) <= query.limit:
        return SearchPage(items, None)
    last = items[-1]
    return SearchPage(items, SearchKey(query.sort, sort_value(last, query), last.id))
