"""Entity tracking: catalogue names found in spoken text, and a follow-up answered for the entity named earlier."""

from __future__ import annotations

from pathlib import Path

from bot.infra.embeddings import Embedder
from bot.knowledge import KnowledgeBase, KnowledgeConfig
from bot.knowledge.entities import EntityIndex

NAMES = ["Acorn Guest House", "Arbury Lodge Guesthouse", "A and B Guest House", "De Luca Cucina and Bar",
         "Good Luck Chinese Food Takeaway", "Alexander Bed and Breakfast", "Allenbell", "Avalon",
         "Golden Wok", "Golden House", "Cityroomz", "El Shaddai"]


def test_spoken_names_with_slips_are_found() -> None:
    """Lower case, a split word, a dropped letter, "n" for "and": each still names its entity."""
    index = EntityIndex(NAMES)
    assert index.names[index.find("can you book me a room at a corn guest house") or 0] == "acorn guest house"
    found = index.find("a table at good luck chinese food takeway please")
    assert found is not None and index.names[found] == "good luck chinese food takeaway"
    found = index.find("i'm looking at de luca cucina n bar")
    assert found is not None and index.names[found] == "de luca cucina and bar"
    assert index.find("is there parking at the hotel") is None


def test_golden_wok_is_not_golden_house() -> None:
    """A word shared by two names is not enough; the name's other word decides."""
    index = EntityIndex(NAMES)
    found = index.find("what about golden wok")
    assert found is not None and index.names[found] == "golden wok"


def test_most_recent_turn_naming_an_entity_decides() -> None:
    """The question itself first, then earlier turns from the most recent back."""
    index = EntityIndex(NAMES)
    about = index.about("do they have wifi", ["tell me about avalon", "actually what about allenbell", "ok"])
    assert about is not None and index.names[about] == "allenbell"


async def test_follow_up_is_answered_for_the_entity_named_turns_earlier(tmp_path: Path, embedder: Embedder) -> None:
    """"Do they take credit cards?" three turns after the restaurant was named finds that restaurant's FAQ."""
    knowledge = tmp_path / "knowledge"
    bodies = {"cards": "accepts all major credit cards.", "parking": "has free parking for guests.",
              "pets": "does not allow pets."}
    for i, name in enumerate(NAMES):
        for topic, body in bodies.items():
            path = knowledge / f"e{i}" / f"{topic}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {name}\n\n## {topic}\n\n{name} {body}\n", encoding="utf-8")
    config = KnowledgeConfig(entity_tracking=True)
    kb = KnowledgeBase.open(tmp_path, config, embedder=embedder, index_dir=tmp_path / "index")
    context = ["i'd like a table at de luca cucina n bar", "for four at seven thirty", "yes that sounds good"]
    found = await kb.search("do they take credit cards", context=context)
    assert found[0].doc_id == "e3/cards"
    off = KnowledgeBase.open(tmp_path, config.model_copy(update={"entity_tracking": False}), embedder=embedder,
                             index_dir=tmp_path / "index")
    assert kb.retriever.entities is not None and off.retriever.entities is None


def test_demo_policy_pages_keep_entity_tracking_off(demo_kb: KnowledgeBase) -> None:
    """The demo's 31 policy pages are not a catalogue: entity tracking stays off by itself."""
    assert demo_kb.retriever.entities is None
