"""Customer records on SQLite and PostgreSQL: linking is idempotent, contact points are normalized, a caller
id is only a hint, and erasure removes the records while the audit trail stays."""

from __future__ import annotations

from bot.customers.requests import DataRequests
from bot.customers.store import Contact, CustomerStore, contact_of
from bot.kernel.events import SlotSet, UserUttered
from bot.project import Project
from bot.storage import ConversationStore, open_database


def test_identifiers_name_contact_points() -> None:
    """E-mail addresses and phone numbers are contact points (normalized); order numbers are not."""
    assert contact_of(" Ada@Example.com ") == Contact("email", "ada@example.com")
    assert contact_of("+44 20 7946 0011") == Contact("phone", "442079460011")
    assert contact_of("A1002") is None


async def test_link_contacts_hint_and_erase(database_url: str, demo_project: Project) -> None:
    """Linking twice keeps one link and refreshes the contact; the phone hint finds the customer; erasure deletes
    the records and the links, redacts the events and leaves an audit row."""
    db = await open_database(database_url)
    try:
        conversations = ConversationStore(db)
        await conversations.setup()
        await conversations.append("c1", [UserUttered(text="ada@example.com", timestamp=10.0),
                                          SlotSet(name="customer_id", value="C001", timestamp=10.0)], expected_seq=0)
        store = CustomerStore(db)
        for at in (10.0, 20.0):
            await store.link("C001", "c1", channel="voice", contacts=(Contact("phone", "+44 20 7946 0011"),), at=at)
        await store.link("C001", "c2", channel="web", at=30.0)
        assert [(link.conversation_id, link.linked_at) for link in await store.links("C001")] == [("c2", 30.0),
                                                                                               ("c1", 10.0)]
        assert [(c["kind"], c["value"], c["verified_at"]) for c in await store.contacts("C001")] == [
            ("phone", "442079460011", 20.0)]
        assert await store.hinted("phone", "+442079460011") == ["C001"]
        assert await store.hinted("phone", "+15550100") == []
        assert await store.customer_of("c1") == "C001" and await store.customer_of("c3") is None

        requests = DataRequests(db, demo_project)
        erased = await requests.erase("C001", actor="olga")
        assert erased.conversations == ["c1", "c2"] and erased.events_redacted == 2
        assert await store.links("C001") == [] and await store.contacts("C001") == []
        assert await store.record("C001") is None
        state = await conversations.load("c1")
        assert state.latest_user is not None and state.latest_user.text == ""
        assert [r["action"] for r in await requests.history("C001")] == ["erase"]
    finally:
        await db.close()
