"""Profiles: what a user shows others (name, bio, skills, avatar, city) and its rules."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from chore_auth.domain.errors import InvalidProfile
from chore_auth.domain.events import ContactChanged, ProfileUpdated
from chore_auth.domain.model import User

BIO_MAX = 1000
CITY_MAX = 100
NAME_MAX = 200
AVATAR_URL_MAX = 500
SKILLS_MAX = 20

# The fixed categories a tasker can list; the tasks service's categories, by slug.
SKILLS: tuple[str, ...] = (
    "cleaning",
    "moving",
    "handyman",
    "assembly",
    "gardening",
    "delivery",
    "painting",
    "plumbing",
    "electrical",
    "pet_care",
    "tech_help",
    "errands",
)


@dataclass(frozen=True)
class ProfileChanges:
    """A PATCH: None leaves a field as it is."""

    name: str | None = None
    bio: str | None = None
    skills: tuple[str, ...] | None = None
    avatar_url: str | None = None
    city: str | None = None
    clear_avatar: bool = False


def check_avatar_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or len(url) > AVATAR_URL_MAX:
        raise InvalidProfile("The avatar must be an https:// URL.", code="invalid_avatar_url")


def check_skills(skills: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(skills) - set(SKILLS))
    if unknown:
        raise InvalidProfile(
            f"Unknown skills: {', '.join(unknown)}. Choose from: {', '.join(SKILLS)}.",
            code="unknown_skill",
        )
    # Stored in the list's order, once each: the same choice is always the same value.
    return tuple(s for s in SKILLS if s in skills)


def _check(changes: ProfileChanges) -> None:
    if changes.name is not None and not 1 <= len(changes.name.strip()) <= NAME_MAX:
        raise InvalidProfile(f"Name must be 1 to {NAME_MAX} characters.")
    if changes.bio is not None and len(changes.bio) > BIO_MAX:
        raise InvalidProfile(f"Bio must be at most {BIO_MAX} characters.")
    if changes.city is not None and len(changes.city.strip()) > CITY_MAX:
        raise InvalidProfile(f"City must be at most {CITY_MAX} characters.")
    if changes.avatar_url is not None:
        check_avatar_url(changes.avatar_url)


def update_profile(
    user: User, changes: ProfileChanges, *, now: datetime
) -> tuple[User, list[ProfileUpdated | ContactChanged]]:
    """The user with `changes` applied, and what to announce (nothing when nothing changed)."""
    _check(changes)
    updated = replace(
        user,
        name=user.name if changes.name is None else changes.name.strip(),
        bio=user.bio if changes.bio is None else changes.bio,
        skills=user.skills if changes.skills is None else check_skills(changes.skills),
        avatar_url=None
        if changes.clear_avatar
        else (user.avatar_url if changes.avatar_url is None else changes.avatar_url),
        city=user.city if changes.city is None else changes.city.strip(),
    )
    if updated == user:
        return user, []
    updated = replace(updated, updated_at=now)
    events: list[ProfileUpdated | ContactChanged] = [
        ProfileUpdated(updated.id, updated.name, updated.city, updated.skills, now)
    ]
    if updated.name != user.name:
        events.append(contact_changed(updated, now))
    return updated, events


def contact_changed(user: User, now: datetime) -> ContactChanged:
    return ContactChanged(user.id, user.email, user.name, user.email_verified, now)
