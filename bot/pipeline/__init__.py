"""The turn pipeline: :class:`~bot.pipeline.turn.Turn`, the stages it passes through and the engine that
locks, runs, stores and publishes it (see docs/ARCHITECTURE.md, "One turn, top to bottom")."""
