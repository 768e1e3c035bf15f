"""Domain exceptions: pure, no HTTP.

Domains raise these; `chore_common.http.problem` maps each class to a status code in one
table, so handlers catch nothing. `code` is the stable machine-readable reason clients
branch on (`invalid_transition`, `email_taken`); `detail` is for humans.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a domain may raise on purpose."""

    code: str = "error"
    title: str = "Error"

    def __init_subclass__(
        cls, *, code: str | None = None, title: str | None = None, **kwargs: object
    ) -> None:
        # `class TaskNotFound(NotFound, code="task_not_found", title="Task not found"): ...`
        # declares an error in one line; the base class alone still decides the status.
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title

    def __init__(self, detail: str = "", *, code: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Forbidden"


class Unauthorized(DomainError):
    code = "unauthorized"
    title = "Unauthorized"


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    title = "Precondition failed"


class BadRequest(DomainError):
    """A request that names something unusable (a spent or expired one-time token)."""

    code = "bad_request"
    title = "Bad request"


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a rule the schema cannot express."""

    code = "invalid_input"
    title = "Invalid input"


class RateLimited(DomainError):
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str = "", *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency (database, NATS, upstream) is down; the caller should retry later."""

    code = "unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str = "", *, retry_after: int = 1, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after
