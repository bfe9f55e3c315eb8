"""The QA ops API over a real socket (ops role; score, report, transcript, marking a score wrong) and
``careline qa score`` / ``careline qa report`` on the same database."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from click.testing import CliRunner

from bot.app.cli import main
from bot.app.runtime import Runtime
from bot.storage import ConversationStore, open_database

from .conftest import AUTH, OPS_AUTH, examples, seed_examples


async def test_the_api_scores_reports_and_takes_a_review(qrt: Runtime, qserver: str) -> None:
    """Scoring finds the bad answer and the agent who did not greet; the transcript has the evidence turns;
    marking the greeting score wrong makes that criterion's agreement 0 of 1."""
    await seed_examples(qrt, time.time())
    async with aiohttp.ClientSession() as http:
        async with http.post(qserver + "/api/ops/qa/score", headers=AUTH["amy"]) as resp:
            assert resp.status == 403
        async with http.post(qserver + "/api/ops/qa/score", headers=OPS_AUTH) as resp:
            assert resp.status == 200
            assert (await resp.json())["scored"] == 3
        async with http.get(qserver + "/api/ops/qa?window=7d", headers=OPS_AUTH) as resp:
            report = await resp.json()
        criteria = {c["criterion"]: c for c in report["criteria"]}
        assert criteria["no_rephrase"]["failed"] == 1 and criteria["no_rephrase"]["passed"] == 1
        assert criteria["no_rephrase"]["failures"][0]["conversation_id"] == "qa-bad"
        assert criteria["no_rephrase"]["failures"][0]["evidence"] == [3, 4]
        assert criteria["agent_greeted"]["failures"][0]["evidence"] == [6]
        assert report["overall"]["conversations"] == 3 and report["overall"]["with_failures"] == 2
        assert set(report["segments"]["kind"]) == {"bot", "agent"}

        async with http.get(qserver + "/api/ops/qa/conversations/qa-bad", headers=OPS_AUTH) as resp:
            detail = await resp.json()
        lines = {line["seq"]: line for line in detail["transcript"]}
        assert lines[3]["from"] == "bot" and lines[4]["text"].startswith("that's not what I asked")

        review = {"conversation_id": "qa-agent", "criterion": "agent_greeted", "wrong": True, "comment": "ok"}
        async with http.post(qserver + "/api/ops/qa/reviews", json=review, headers=OPS_AUTH) as resp:
            assert resp.status == 200
            assert (await resp.json())["human"] is True
        for bad, status in (({**review, "wrong": "yes"}, 400), ({**review, "extra": 1}, 400),
                            ({**review, "criterion": "nope"}, 404)):
            async with http.post(qserver + "/api/ops/qa/reviews", json=bad, headers=OPS_AUTH) as resp:
                assert resp.status == status, bad
        async with http.get(qserver + "/api/ops/qa?window=7d", headers=OPS_AUTH) as resp:
            calibration = (await resp.json())["calibration"]["criteria"]
        assert calibration == {"agent_greeted": {"reviewed": 1, "agreed": 0, "marked_wrong": 1, "agreement": 0.0}}


def payload(stdout: str) -> dict[str, Any]:
    """The JSON a command printed (log lines that went to the same stream before it are left out)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("{"))
    data: dict[str, Any] = json.loads("\n".join(lines[start:]))
    return data


def seed_file(url: str) -> None:
    """The example conversations in the database at ``url``."""
    async def seed() -> None:
        db = await open_database(url)
        try:
            store = ConversationStore(db)
            await store.setup()
            for cid, events in examples(time.time()).items():
                await store.append(cid, events, expected_seq=0)
        finally:
            await db.close()

    asyncio.run(seed())


def test_the_cli_scores_and_reports_as_json_and_csv(tmp_path: Path) -> None:
    """``careline qa score`` stores the three scores once; ``qa report --json --csv`` lists the failures."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    seed_file(url)
    runner = CliRunner()
    first = runner.invoke(main, ["qa", "score", "--json", "--database", url])
    assert first.exit_code == 0, first.output
    assert payload(first.stdout)["scored"] == 3
    again = runner.invoke(main, ["qa", "score", "--json", "--database", url])
    assert payload(again.stdout)["scored"] == 0
    out = tmp_path / "qa.csv"
    result = runner.invoke(main, ["qa", "report", "--since", "7d", "--json", "--no-topics", "--csv", str(out),
                                  "--database", url])
    assert result.exit_code == 0, result.output
    report = payload(result.stdout)
    failed = {c["criterion"]: c["failed"] for c in report["criteria"] if c["failed"]}
    assert failed == {"no_rephrase": 1, "agent_greeted": 1}
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {"window": "7d", "section": "criterion", "segment": "agent", "name": "agent_greeted",
            "metric": "failed", "value": "1"} in rows
    text = runner.invoke(main, ["qa", "report", "--no-topics", "--database", url])
    assert "agent_greeted" in text.stdout and "mean score" in text.stdout
    bad = runner.invoke(main, ["qa", "report", "--since", "forever", "--database", url])
    assert bad.exit_code == 2 and "--since" in bad.output
