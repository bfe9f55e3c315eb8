"""The serving encoder of the intent classifier: the int8 ONNX export of a sentence-transformers model.

The runtime serves a project's classifier through it (:func:`bot.app.runtime.train_understander`); the dataset
evaluation (:mod:`evals.nlu`) measures the same encoder, so what is measured is what is served.
"""

from __future__ import annotations

from pathlib import Path

from bot.infra.logs import get_logger
from bot.kernel.errors import ConfigError
from bot.nlu.onnx_encoder import OnnxEncoder, export_onnx

log = get_logger(__name__)


def onnx_encoder_for(model_dir: Path, cache: Path) -> OnnxEncoder | None:
    """The int8 ONNX encoder for ``model_dir`` (exported once), or ``None`` when export fails."""
    try:
        path = export_onnx(model_dir, cache / "onnx")
        return OnnxEncoder(path, model_dir)
    except (ConfigError, ImportError, OSError, RuntimeError) as exc:
        log.warning("onnx_encoder_unavailable", error=str(exc), fallback="sentence-transformers")
        return None
