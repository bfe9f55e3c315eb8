"""The bundled emotion model: it loads from the package, stays small, survives a save/load round trip, and its
care score follows both of its parts (the sentence-vector network and the words model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.guardrails.emotion import BUNDLED_MODEL, EmotionModel, words
from bot.infra.embeddings import Embedder
from bot.kernel.errors import ConfigError


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel.load(BUNDLED_MODEL)


def test_the_bundled_model_is_small_and_says_how_it_was_trained(model: EmotionModel) -> None:
    assert BUNDLED_MODEL.stat().st_size < 2_000_000
    assert model.labels == ("anger", "sadness", "fear")
    assert set(model.info["data_sha256"]) == {"train.tsv", "dev.tsv", "emotions.txt"}
    assert {"select", "aside"} <= set(model.info["dev"])


def test_a_saved_model_scores_as_before(model: EmotionModel, embedder: Embedder, tmp_path: Path) -> None:
    texts = ["I'm so angry, nobody has called me back", "thanks, that's all I needed"]
    vectors = embedder.encode(texts)
    model.save(tmp_path / "m.npz")
    again = EmotionModel.load(tmp_path / "m.npz")
    for (label, score), (label2, score2) in zip(model.scores(texts, vectors), again.scores(texts, vectors),
                                                strict=True):
        assert label == label2
        assert score == pytest.approx(score2, abs=1e-3)


def test_care_rises_with_words_and_with_the_sentence_vector(model: EmotionModel, embedder: Embedder) -> None:
    texts = ["I'm heartbroken and furious about this", "Could you tell me the opening hours?"]
    vectors = embedder.encode(texts)
    by_words, by_vector = model.word_logits(texts), model.vector_logits(vectors)
    assert by_words[0] > by_words[1]
    assert by_vector[0] > by_vector[1]
    assert np.all(model.care_logits(texts, vectors) == pytest.approx(
        model.blend * by_vector + (1 - model.blend) * by_words - model.threshold))


def test_features_are_lower_cased_words_and_pairs() -> None:
    assert words("Not HAPPY!") == ["not", "happy", "!", "not happy", "happy !"]


def test_a_broken_model_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot read emotion model"):
        EmotionModel.load(tmp_path / "bad.npz")
