"""Why an auth command refused: each a `chore_common.errors` class with a stable code."""

from __future__ import annotations

from chore_common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)


class EmailTaken(Conflict, code="email_taken", title="Email already registered"): ...


class InvalidCredentials(Unauthorized, code="invalid_credentials", title="Invalid credentials"):
    """Same class, code and text whether the email is unknown or the password wrong."""

    def __init__(self) -> None:
        super().__init__("Email or password is incorrect.")


class InvalidRefreshToken(
    Unauthorized, code="invalid_refresh_token", title="Invalid refresh token"
): ...


class SessionRevoked(Unauthorized, code="session_revoked", title="Session revoked"): ...


class SessionNotFound(NotFound, code="session_not_found", title="Session not found"): ...


class WeakPassword(
    InvalidInput, code="weak_password", title="Password does not meet the rules"
): ...


class InvalidEmail(InvalidInput, code="invalid_email", title="Email is not an address"): ...


class InvalidRole(InvalidInput, code="invalid_role", title="Role not allowed"): ...


class InvalidProfile(InvalidInput, code="invalid_profile", title="Profile not accepted"): ...


class UserNotFound(NotFound, code="user_not_found", title="User not found"): ...


class InvalidAccountToken(BadRequest, code="invalid_token", title="Link not valid"): ...


class WrongPassword(Forbidden, code="wrong_password", title="Password is incorrect"): ...


class AccountBanned(Forbidden, code="account_banned", title="Account banned"): ...


class AccountSuspended(Forbidden, code="account_suspended", title="Account suspended"): ...


class InvalidStatusMove(
    Conflict, code="invalid_transition", title="Not allowed in this status"
): ...
