"""The groundedness check on its own: citations, similarity, numbers and negation."""

from __future__ import annotations

from bot.infra.embeddings import Embedder
from bot.knowledge.grounding import check_grounding

PASSAGES = ["Parcel returns are free. You can return most items within 30 days of delivery.",
            "Gift cards never expire and there are no fees."]


async def test_paraphrase_with_citation_is_grounded(embedder: Embedder) -> None:
    """A faithful paraphrase citing the right passage passes, and its citations are reported."""
    result = await check_grounding("You have 30 days from delivery to return most items [1]. Gift cards do not "
                                   "expire [2].", PASSAGES, embedder, threshold=0.6)
    assert result.grounded, result.sentences
    assert result.cited == (1, 2)


async def test_changed_number_is_not_grounded(embedder: Embedder) -> None:
    """A number absent from the cited passage fails even though the sentence embeds close to it."""
    result = await check_grounding("You can return most items within 90 days of delivery [1].", PASSAGES,
                                   embedder, threshold=0.6)
    assert not result.grounded
    assert result.sentences[0].problem == "number not in passages: 90"


async def test_flipped_negation_is_not_grounded(embedder: Embedder) -> None:
    """Saying the opposite of the passage ("do expire" vs "never expire") is caught by the negation check."""
    result = await check_grounding("Gift cards expire and there are fees [2].", PASSAGES, embedder, threshold=0.6)
    assert not result.grounded


async def test_citing_a_missing_passage_is_not_grounded(embedder: Embedder) -> None:
    """A citation to a passage that was not given ([7]) fails."""
    result = await check_grounding("Gift cards never expire [7].", PASSAGES, embedder, threshold=0.6)
    assert result.sentences[0].problem == "cites a passage that does not exist"


async def test_uncited_sentence_inherits_the_next_citation(embedder: Embedder) -> None:
    """A sentence without a marker takes the citation of the next cited sentence."""
    result = await check_grounding("Parcel returns are free. Most items can be returned within 30 days [1].",
                                   PASSAGES, embedder, threshold=0.6)
    assert result.grounded
    assert [s.cited for s in result.sentences] == [(1,), (1,)]
