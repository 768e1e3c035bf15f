"""Who wants which notification where: per user, per kind, per channel, plus quiet hours.

A notification's kind (`NotificationKind`, named after the event) falls into one of the
setting kinds a user can turn on or off; kinds outside every group (e.g. `task_started`)
are always delivered in-app. Quiet hours hold email back (in-app shows in the app anyway),
in the user's own time zone; a window that wraps midnight (22:00-07:00) works as read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chore_common.errors import InvalidInput


class SettingKind(StrEnum):
    OFFER = "offer"
    ASSIGNED = "assigned"
    DECLINED = "declined"
    MESSAGE = "message"
    REMINDER = "reminder"
    DISPUTE = "dispute"
    REVIEW = "review"


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


# Notification kinds (their string values) by setting kind. Kinds added by other features
# join a group here; a kind in no group is not configurable.
GROUP_OF: Final[dict[str, SettingKind]] = {
    "offer_created": SettingKind.OFFER,
    "offer_updated": SettingKind.OFFER,
    "offer_withdrawn": SettingKind.OFFER,
    "task_assigned": SettingKind.ASSIGNED,
    "offer_declined": SettingKind.DECLINED,
    "message": SettingKind.MESSAGE,
    "message_received": SettingKind.MESSAGE,
    "reminder_due": SettingKind.REMINDER,
    "task_disputed": SettingKind.DISPUTE,
    "dispute_resolved": SettingKind.DISPUTE,
    "review_visible": SettingKind.REVIEW,
}

DEFAULT_TIME_ZONE: Final = "UTC"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name[:60]!r}: use an IANA name such as Europe/Berlin",
            code="invalid_time_zone",
        ) from None


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps midnight


def _all_on() -> dict[SettingKind, frozenset[Channel]]:
    return {kind: frozenset(Channel) for kind in SettingKind}


@dataclass(frozen=True, slots=True)
class Preferences:
    """One user's settings; a user who never saved any has every channel on, no quiet hours."""

    channels: dict[SettingKind, frozenset[Channel]] = field(default_factory=_all_on)
    time_zone: str = DEFAULT_TIME_ZONE
    quiet: QuietHours | None = None

    def allows(self, kind: str, channel: Channel, now: datetime) -> bool:
        """May a notification of `kind` reach this user on `channel` at `now` (aware)?"""
        if not self.switched_on(kind, channel):
            return False
        return channel is not Channel.EMAIL or self.email_at(now) == now

    def switched_on(self, kind: str, channel: Channel) -> bool:
        """The user's switch for `kind` on `channel`; kinds outside the settings are on."""
        group = GROUP_OF.get(kind)
        return group is None or channel in self.channels.get(group, frozenset())

    def email_at(self, now: datetime) -> datetime:
        """When an email due at `now` (aware) may go: now, or the end of the quiet hours it
        falls in (in the user's time zone), so a mail waits instead of being lost."""
        if self.quiet is None:
            return now
        local = now.astimezone(zone(self.time_zone))
        if not self.quiet.contains(local.time()):
            return now
        end = datetime.combine(local.date(), self.quiet.end, local.tzinfo)
        if end <= local:  # quiet hours that began yesterday evening end today; else tomorrow
            end += timedelta(days=1)
        return end.astimezone(now.tzinfo)

    def with_changes(
        self,
        switches: dict[SettingKind, dict[Channel, bool]] | None = None,
        time_zone: str | None = None,
        quiet: QuietHours | None = None,
        clear_quiet: bool = False,
    ) -> Preferences:
        """A partial update: each named (kind, channel) is switched on or off; the rest stays."""
        if time_zone is not None:
            zone(time_zone)
        channels = dict(self.channels)
        for kind, wanted in (switches or {}).items():
            on = set(channels.get(kind, frozenset()))
            for channel, value in wanted.items():
                (on.add if value else on.discard)(channel)
            channels[kind] = frozenset(on)
        return replace(
            self,
            channels=channels,
            time_zone=self.time_zone if time_zone is None else time_zone,
            quiet=None if clear_quiet else (quiet or self.quiet),
        )
