"""The README's commands and examples are the real ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    """The first code block is `make run` and `make test`; both are Makefile targets; .ci/run calls `make test`."""
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "make test"


async def test_readme_curl_example_works_against_the_server(server: str) -> None:
    """The README's curl request gets the reply the README shows."""
    example = re.search(r"curl -s -X POST http://127\.0\.0\.1:8080(\S+) .*?-d '(\{.*?\})'", README, re.S)
    assert example is not None
    path, body = example.group(1), json.loads(example.group(2))
    shown = re.search(r'```json\n\[\{"recipient_id": "me", "text": "(.*?) \.\.\."', README)
    assert shown is not None
    async with aiohttp.ClientSession() as http, http.post(server + path, json=body) as resp:
        assert resp.status == 200
        reply = await resp.json()
    assert reply[0]["recipient_id"] == body["sender"]
    assert reply[0]["text"].startswith(shown.group(1))
