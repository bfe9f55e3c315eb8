"""KPIs computed from the store match the values counted by hand from ``conftest.dataset``."""

from __future__ import annotations

import pytest

from bot.analytics import BadWindow, compute_kpis, parse_duration, window
from bot.storage import Database
from tests.ops.conftest import NOW


async def test_seven_day_kpis_match_hand_counts(seeded_db: Database) -> None:
    """Over 7 days: 7 conversations, 2 contained, 3 escalated, and every other KPI as counted by hand."""
    report = await compute_kpis(seeded_db, window("7d", until=NOW))
    k = report.overall
    assert k.conversations == 7
    assert (k.contained, k.containment_rate) == (2, round(2 / 7, 4))
    assert (k.escalated, k.escalation_rate) == (3, round(3 / 7, 4))
    assert k.escalations_by_reason == {
        "auth_failed": {"count": 1, "rate": round(1 / 7, 4)},
        "emotional": {"count": 1, "rate": round(1 / 7, 4)},
        "requested": {"count": 1, "rate": round(1 / 7, 4)},
    }
    assert (k.knowledge_consulted, k.knowledge_answer_rate, k.knowledge_dont_know_rate) == (4, 0.75, 0.25)
    assert (k.auth_attempts, k.auth_success_rate, k.auth_lockout_rate) == (2, 0.5, 0.5)
    assert (k.csat_responses, k.csat_average, k.csat_satisfied_rate) == (3, 3.67, 0.6667)
    assert k.csat_distribution == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    assert k.bot_handling_seconds == round(395 / 7, 2)
    assert (k.agent_handling_seconds, k.agent_conversations) == (200.0, 2)
    assert (k.pickups, k.pickup_seconds_avg, k.pickup_seconds_p90) == (2, 180.0, 300.0)
    assert (k.fcr_eligible, k.fcr_rate) == (7, round(5 / 7, 4))
    assert report.queue_length == 1


async def test_breakdowns_per_channel_and_flow(seeded_db: Database) -> None:
    """Per channel and per flow, each KPI set covers exactly its own conversations."""
    report = await compute_kpis(seeded_db, window("7d", until=NOW))
    assert {c: k.conversations for c, k in report.by_channel.items()} == {"rest": 1, "voice": 2, "web": 4}
    assert report.by_channel["web"].containment_rate == 0.25
    assert report.by_channel["voice"].knowledge_answer_rate == 0.5
    assert {f: k.conversations for f, k in report.by_flow.items()} == {
        "authentication": 2, "feedback": 1, "order_status": 1}
    assert report.by_flow["authentication"].auth_lockout_rate == 0.5
    assert report.by_flow["feedback"].escalations_by_reason == {"emotional": {"count": 1, "rate": 1.0}}


async def test_shorter_windows_keep_only_their_conversations(seeded_db: Database) -> None:
    """The last hour holds c6 and c8 (one contained); the last day adds c5 but not c4 (26 h ago)."""
    hour = await compute_kpis(seeded_db, window("hour", until=NOW))
    assert (hour.overall.conversations, hour.overall.containment_rate) == (2, 0.5)
    assert len(hour.series) == 12 and sum(p.conversations for p in hour.series) == 2
    assert hour.series[10].conversations == 1 and hour.series[10].contained == 1  # c8, 10 min ago
    day = await compute_kpis(seeded_db, window("day", until=NOW))
    assert day.overall.conversations == 3 and day.overall.knowledge_consulted == 2
    assert len(day.series) == 24


async def test_report_serializes_to_json_shape(seeded_db: Database) -> None:
    """to_dict() gives the JSON the console reads: overall, by_channel, by_flow, series, queue_length."""
    data = (await compute_kpis(seeded_db, window("7d", until=NOW))).to_dict()
    assert set(data) >= {"window", "since", "until", "overall", "by_channel", "by_flow", "series", "queue_length"}
    assert data["overall"]["conversations"] == 7 and data["series"][0]["start"] == NOW - 7 * 86400


def test_windows_parse_names_and_durations() -> None:
    """hour, day, 7d and 30m parse to seconds; nonsense raises BadWindow naming the input."""
    assert [parse_duration(w) for w in ("hour", "day", "7d", "30m")] == [3600, 86400, 604800, 1800]
    with pytest.raises(BadWindow, match="'fortnight'"):
        parse_duration("fortnight")
