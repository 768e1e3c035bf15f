"""GET/PUT /messaging/settings on one replica, and the in-app setting applied by the
notification path itself (the tasks event handled by messaging's use case)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chore_messaging.domain.preferences import Channel
from chore_messaging.usecases import preferences

from .conftest import Client

pytestmark = pytest.mark.db


async def test_settings_change_what_is_named_and_keep_the_rest(
    messaging: Client, issuer, open_conversation, uow
) -> None:
    ann = issuer.user("client")
    got = await (await messaging.get("/messaging/settings", headers=ann.headers)).json()
    assert got["time_zone"] == "UTC"
    assert got["quiet_hours"] is None
    assert len(got["kinds"]) == 7
    change = {
        "kinds": {"offer": {"in_app": False}, "review": {"email": False}},
        "time_zone": "Asia/Tokyo",
        "quiet_hours": {"start": "23:30", "end": "06:00"},
    }
    put = await messaging.put("/messaging/settings", json=change, headers=ann.headers)
    assert put.status == 200
    saved = await (await messaging.get("/messaging/settings", headers=ann.headers)).json()
    assert saved == await put.json()
    assert saved["kinds"]["offer"] == {"in_app": False, "email": True}
    assert saved["kinds"]["review"] == {"in_app": True, "email": False}
    assert saved["kinds"]["message"] == {"in_app": True, "email": True}
    assert saved["quiet_hours"] == {"start": "23:30", "end": "06:00"}
    # Quiet hours off again; the rest stays.
    put = await messaging.put(
        "/messaging/settings", json={"quiet_hours": None}, headers=ann.headers
    )
    assert (await put.json())["quiet_hours"] is None
    assert (await put.json())["kinds"]["offer"]["in_app"] is False

    # The mail notifier's question, at 23:45 in Tokyo (14:45 UTC): email held back, in-app not.
    quiet = {"quiet_hours": {"start": "23:30", "end": "06:00"}}
    await messaging.put("/messaging/settings", json=quiet, headers=ann.headers)
    late = datetime(2026, 12, 6, 14, 45, tzinfo=UTC)
    assert not await preferences.may_notify(uow(), ann.id, "task_assigned", Channel.EMAIL, late)
    assert await preferences.may_notify(uow(), ann.id, "task_assigned", Channel.IN_APP, late)
    assert await preferences.may_notify(
        uow(), ann.id, "task_assigned", Channel.EMAIL, late.replace(hour=3)
    )

    # Offers in-app off: the offer event opens the conversation but notifies nobody.
    await open_conversation(owner=ann)
    listed = await (await messaging.get("/messaging/notifications", headers=ann.headers)).json()
    assert listed["items"] == []
    bob = issuer.user("client")
    await open_conversation(owner=bob)
    listed = await (await messaging.get("/messaging/notifications", headers=bob.headers)).json()
    assert [n["kind"] for n in listed["items"]] == ["offer_created"]


@pytest.mark.parametrize(
    "body",
    [
        {"time_zone": "Mars/Olympus"},
        {"time_zone": ""},
        {"kinds": {"offers": {"in_app": False}}},
        {"kinds": {"offer": {"sms": True}}},
        {"kinds": {"offer": {"in_app": "maybe"}}},
        {"quiet_hours": {"start": "24:00", "end": "07:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"colour": "blue"},
    ],
)
async def test_bad_settings_are_422_and_change_nothing(
    messaging: Client, issuer, body: dict
) -> None:
    ann = issuer.user("client")
    before = await (await messaging.get("/messaging/settings", headers=ann.headers)).json()
    refused = await messaging.put("/messaging/settings", json=body, headers=ann.headers)
    assert refused.status == 422
    assert refused.content_type == "application/problem+json"
    after = await (await messaging.get("/messaging/settings", headers=ann.headers)).json()
    assert after == before
