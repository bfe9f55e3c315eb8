"""Serving arithmetic of a fitted scikit-learn logistic regression: weights, intercept, softmax.

Both intent models (:mod:`bot.nlu.embedding_classifier`, :mod:`bot.nlu.lexical`) fit with scikit-learn
and predict with these few lines of NumPy.
"""

from __future__ import annotations

import numpy as np


def linear_weights(model: object) -> tuple[np.ndarray, np.ndarray]:
    """(features × classes) weights and the intercept of a fitted logistic regression, as softmax logits.

    Serving does the arithmetic itself: scikit-learn's input validation costs ~0.5 ms per single-message
    call, several times the product. Two classes: scikit-learn keeps one logit ``z``; the softmax over
    ``(-z/2, z/2)`` is the same sigmoid.
    """
    coef = np.asarray(model.coef_, dtype=np.float64)  # type: ignore[attr-defined]
    intercept = np.asarray(model.intercept_, dtype=np.float64)  # type: ignore[attr-defined]
    if coef.shape[0] == 1:
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return np.ascontiguousarray(coef.T), intercept


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)
