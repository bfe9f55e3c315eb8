"""Quality assurance of every conversation, bot and agent alike: scorecards as data, checks over events.

Modules, in the order a score meets them:

- :mod:`~bot.qa.scorecard` — ``qa.yml`` (criteria, weights, parameters), versioned by its content hash.
- :mod:`~bot.qa.transcript` — a conversation's events with their store ``seq`` (the evidence numbers).
- :mod:`~bot.qa.base`, :mod:`~bot.qa.bot_checks`, :mod:`~bot.qa.agent_checks`, :mod:`~bot.qa.judge` — the
  checks (rule, model, LLM), registered by name in :data:`bot.qa.checks.CHECKS`.
- :mod:`~bot.qa.scorer` — scores finished conversations, idempotently on every worker.
- :mod:`~bot.qa.store` — the ``qa_runs`` / ``qa_scores`` / ``qa_reviews`` tables.
- :mod:`~bot.qa.report` — distributions, failures per criterion, calibration (agreement with reviewers).
- :mod:`~bot.qa.topics` — what to automate next: handed-off and unanswered messages clustered into topics.

```python
from bot.qa import Scorer, load_scorecard
scorer = Scorer(runtime.database, load_scorecard(project.path))
await scorer.setup()
run = await scorer.score_pending()
```
"""

from bot.qa.base import CheckContext, Verdict
from bot.qa.scorecard import Criterion, Scorecard, load_scorecard, parse_scorecard
from bot.qa.scorer import Scorer, ScoreRun, score_conversation
from bot.qa.store import ConversationScore, CriterionScore, QAStore
from bot.qa.transcript import Conversation

__all__ = [
    "CheckContext",
    "Conversation",
    "ConversationScore",
    "Criterion",
    "CriterionScore",
    "QAStore",
    "ScoreRun",
    "Scorecard",
    "Scorer",
    "Verdict",
    "load_scorecard",
    "parse_scorecard",
    "score_conversation",
]
