"""Campaign rules without audio: opt-outs, quiet hours and the calling window on a frozen clock, retries and
their spacing, the SMS reminder and its replies, and one tick across workers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.analytics import compute_kpis, window
from bot.outbound import CampaignConflict, OutboundService, OutboundStore
from tests.outbound.conftest import APPOINTMENT_DAY, Line

ADA = "+442079460011"


async def test_an_sms_reminder_answered_c_confirms_the_appointment(line: Line) -> None:
    """The reminder goes through Twilio Messaging naming only the clinic; the reply "C" (a signed inbound webhook)
    confirms the appointment in the backend and answers in TwiML."""
    campaign = await line.service.create({"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY})
    await line.service.tick()
    [sms] = line.twilio.messages
    assert sms["To"] == ADA and sms["Body"].startswith("Northwind Clinic: a reminder about an appointment")
    assert "Physiotherapy" not in sms["Body"] and "Ada" not in sms["Body"]
    status, reply = await line.twilio.text(line.url + "/sms/inbound", from_=ADA, body=" c ")
    assert status == 200 and "<Message>Thank you, your appointment is confirmed.</Message>" in reply
    appointments = await line.runtime.backend.list_appointments("C001")  # type: ignore[union-attr]
    assert next(a for a in appointments if a.id == "P2001").status == "confirmed"
    assert (await line.service.view(campaign.id))["outcomes"] == {"confirmed": 1}
    report = await compute_kpis(line.runtime.database, window("day", until=line.clock() + 1))
    assert report.to_dict()["outbound"] == {"attempts": 1, "outcomes": {"confirmed": 1}, "reached_rate": 1.0,
                                            "confirmed_rate": 1.0}


async def test_an_unsigned_sms_reply_is_refused_and_changes_nothing(line: Line) -> None:
    """Without Twilio's signature the inbound webhook answers 403 and the appointment stays booked."""
    await line.service.create({"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY})
    await line.service.tick()
    status, _ = await line.twilio.post(line.url + "/sms/inbound", {"From": ADA, "Body": "C"}, sign=False)
    assert status == 403
    appointments = await line.runtime.backend.list_appointments("C001")  # type: ignore[union-attr]
    assert next(a for a in appointments if a.id == "P2001").status == "booked"


async def test_stop_opts_out_of_every_campaign_and_further_attempts(line: Line) -> None:
    """"STOP" is recorded; the open reminder ends opted out, and a later voice campaign to the same number makes no
    attempt (its target ends opted out)."""
    first = await line.service.create({"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY})
    await line.service.tick()
    status, reply = await line.twilio.text(line.url + "/sms/inbound", from_=ADA, body="STOP")
    assert status == 200 and "<Message>You will not receive further messages from us.</Message>" in reply
    assert await line.service.store.opted_out(ADA)
    second = await line.service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY})
    line.clock.advance(3600)
    assert await line.service.tick() == []
    assert line.twilio.calls == []
    assert (await line.service.view(first.id))["outcomes"] == {"opted_out": 1}
    view = await line.service.view(second.id)
    assert view["outcomes"] == {"opted_out": 1} and view["attempts"] == []


async def test_quiet_hours_and_the_window_hold_in_the_customers_time_zone(line: Line) -> None:
    """At 12:45 London time with quiet hours 12:30-13:30 nothing is placed; the target waits until 13:30; a New
    York customer is not called before 09:00 in New York, though it is already afternoon in London."""
    quiet = {"quiet_hours": [{"start": "12:30", "end": "13:30"}]}
    london = ZoneInfo("Europe/London")
    line.clock.set(datetime(2026, 11, 26, 12, 45, tzinfo=london).timestamp())
    campaign = await line.service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY,
                                          "rules": quiet})
    assert await line.service.tick() == []
    [target] = (await line.service.view(campaign.id))["targets"]
    assert target["next_at"] == datetime(2026, 11, 26, 13, 30, tzinfo=london).timestamp()
    line.clock.advance(40 * 60)  # 13:25: still quiet
    assert await line.service.tick() == [] and line.twilio.calls == []
    line.clock.advance(5 * 60)  # 13:30
    assert [a.target_id for a in await line.service.tick()] == ["P2001"]

    line.clock.set(datetime(2026, 11, 29, 13, 0, tzinfo=london).timestamp())  # Sunday: not a calling day
    grace = await line.service.create({"kind": "appointments", "channel": "voice", "day": "2026-11-30"})
    assert await line.service.tick() == []
    [target] = (await line.service.view(grace.id))["targets"]
    assert target["timezone"] == "America/New_York"
    assert target["next_at"] == datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()


async def test_unanswered_calls_are_retried_after_the_spacing_up_to_max_attempts(line: Line) -> None:
    """"no-answer" brings the target back after ``retry_spacing_secs``, not before; after ``max_attempts`` it ends."""
    rules = {"max_attempts": 2, "retry_spacing_secs": 1800}
    campaign = await line.service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY,
                                          "rules": rules})
    await line.service.tick()
    assert await line.twilio.end_call(await line.twilio.next_call(), "no-answer") == 204
    line.clock.advance(1799)
    assert await line.service.tick() == []
    line.clock.advance(1)
    [second] = await line.service.tick()
    assert second.number == 2
    assert await line.twilio.end_call(await line.twilio.next_call(), "busy") == 204
    line.clock.advance(7200)
    assert await line.service.tick() == []
    view = await line.service.view(campaign.id)
    assert [a["outcome"] for a in view["attempts"]] == ["no_answer", "no_answer"]
    assert view["targets"][0]["status"] == "done" and view["campaign"]["status"] == "done"


async def test_two_workers_make_each_attempt_once(line: Line) -> None:
    """A second service on the same store (another worker) ticks at the same moment: the lease lets one tick, and
    after the lease lapses the claimed attempt is still not made again."""
    other = OutboundService(OutboundStore(line.runtime.database), line.service.backend, line.service.config,
                            clock=line.clock, senders=line.service.senders)
    await line.service.create({"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY})
    first, second = await line.service.tick(), await other.tick()
    assert len(first) == 1 and second == []
    line.clock.advance(60)  # the first worker's lease has lapsed; the target waits for its reply
    assert await other.tick() == []
    assert len(line.twilio.messages) == 1


async def test_pause_holds_the_campaign_and_resume_goes_on(line: Line) -> None:
    """A paused campaign makes no attempts; resumed it does; a cancelled one cannot be resumed."""
    campaign = await line.service.create({"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY})
    await line.service.set_status(campaign.id, "pause")
    assert await line.service.tick() == []
    await line.service.set_status(campaign.id, "resume")
    assert len(await line.service.tick()) == 1
    other = await line.service.create({"kind": "appointments", "channel": "sms", "day": "2026-11-30"})
    await line.service.set_status(other.id, "cancel")
    with pytest.raises(CampaignConflict):
        await line.service.set_status(other.id, "resume")


async def test_the_rate_limit_spreads_attempts_over_minutes(line: Line) -> None:
    """With ``rate_per_minute: 1`` two due notices go out a minute apart, not together."""
    line.clock.advance(24 * 3600)  # Friday 27 November: two orders are late
    campaign = await line.service.create({"kind": "delayed_orders", "channel": "sms",
                                          "rules": {"rate_per_minute": 1}})
    assert len((await line.service.view(campaign.id))["targets"]) == 2
    assert len(await line.service.tick()) == 1
    line.clock.advance(30)
    assert await line.service.tick() == []
    line.clock.advance(31)
    assert len(await line.service.tick()) == 1
    assert len(line.twilio.messages) == 2
