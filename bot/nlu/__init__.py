"""Understanding: intents (embedding classifier) and entities."""

from bot.nlu.base import OUT_OF_SCOPE, Entity, IntentClassifier, Understanding

__all__ = ["OUT_OF_SCOPE", "Entity", "IntentClassifier", "Understanding"]
