"""Persistence: one small SQL abstraction (:class:`Database`) over SQLite and PostgreSQL, and the
repositories built on it (:class:`ConversationStore` for events; other packages add their own tables)."""

from bot.storage.conversations import ConversationStore
from bot.storage.database import Database, open_database

__all__ = ["ConversationStore", "Database", "open_database"]
