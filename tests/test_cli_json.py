"""``careline eval kb|guard|nlu --json`` print only the JSON on standard output (``| jq`` works); model
loading, progress and log lines go to standard error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.infra.settings import DEMO_PROJECT

GUARD_DATA = Path(__file__).parent / "guardrails" / "data" / "regulated.csv"
INTENTS = "text,label\n" + "".join(f"{text},{label}\n" for text, label in [
    ("where is my order", "order"), ("track my parcel", "order"), ("has my package shipped yet", "order"),
    ("book an appointment", "appointment"), ("I need to see a doctor", "appointment"),
    ("can I schedule a visit", "appointment"),
])


def _careline(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARELINE_CACHE_DIR": str(cache)}
    env.pop("CARELINE_LOG_JSON", None)
    return subprocess.run([sys.executable, "-m", "careline", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


@pytest.mark.parametrize("command", ["kb", "guard", "nlu"])
def test_eval_json_stdout_is_only_the_json(command: str, tmp_path: Path) -> None:
    """Each dataset evaluation on the demo project prints parseable JSON alone on stdout."""
    if command == "kb":
        queries = tmp_path / "queries.jsonl"
        queries.write_text(json.dumps({"query": "how long do I have to return something",
                                       "relevant": ["living/returns"]}) + "\n")
        args = ["--docs", str(DEMO_PROJECT / "knowledge"), "--queries", str(queries)]
    elif command == "guard":
        args = ["--project", str(DEMO_PROJECT), "--detector", "regulated_topic", "--data", str(GUARD_DATA)]
    else:
        (tmp_path / "intents.csv").write_text(INTENTS)
        args = ["--train", str(tmp_path / "intents.csv"), "--test", str(tmp_path / "intents.csv"),
                "--encoder", "torch", "--cache", str(tmp_path / "nlu")]
    result = _careline("eval", command, *args, "--json", cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict), result.stdout[:500]
