"""The intent classifier: served through int8 ONNX, agreeing with torch, fast (its dataset evaluation:
``tests/evals/test_nlu.py``)."""

from __future__ import annotations

from bot.infra.embeddings import Embedder
from bot.nlu.embedding_classifier import EmbeddingIntentClassifier
from bot.nlu.onnx_encoder import OnnxEncoder
from bot.nlu.understander import Understander

DOMAIN_QUERIES = {
    "where's my parcel? it still hasn't come": "check_order_status",
    "I'd like to cancel the order I made": "cancel_order",
    "can I move my physio appointment to another day": "reschedule_appointment",
    "the lamp arrived smashed": "report_delivery_problem",
    "please send the parcel to my work address instead": "change_delivery_address",
    "forget it": "cancel",
    "what products did I buy": "order_items",
    "do you accept paypal": "ask_question",
    "can you text me a code": "request_code",
    "hello there": "greet",
}


def test_understanding_is_served_by_onnx_and_agrees_with_torch(understander: Understander,
                                                                embedder: Embedder) -> None:
    """The int8 ONNX encoder gives the same top intent as sentence-transformers on domain queries."""
    classifier = understander.classifier
    assert isinstance(classifier, EmbeddingIntentClassifier)
    assert isinstance(classifier.encoder, OnnxEncoder)
    torch_classifier = classifier.with_encoder(embedder)
    texts = list(DOMAIN_QUERIES)
    onnx_top = [r[0][0] for r in classifier.predict(texts)]
    torch_top = [r[0][0] for r in torch_classifier.predict(texts)]
    assert onnx_top == torch_top
    assert sum(p == g for p, g in zip(onnx_top, DOMAIN_QUERIES.values(), strict=True)) >= 9
