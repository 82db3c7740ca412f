"""The human test's images, served fast and under per-serving URLs.

An answer used to cost ~0.15 s of CPU: the next sample decoded from its PNG (three images), re-encoded by Gradio,
plus a mask overlay encoded the same way. With 20 testers on 2 cores that queued answers for seconds. Here:

- the image a tester judges is the shard's own PNG bytes (``datasets.Image(decode=False)``): never decoded or
  re-encoded; the generator's one encoder (``builder.shards.encode_png``) made them, pixels only;
- each serving gets a random ``tEXt`` chunk spliced in after IHDR (bytes only, no pixels touched), so its file,
  hash and URL are its own: a URL seen in one session, or in Browse, never names an image of another session;
- the revealed image (mask overlay) and the mask used to score a click are computed once per sample and kept in a
  small LRU cache; the public accuracy table is cached for a second (``HumanTest``).

Files are written to a folder of their own and Gradio copies them into its cache; files older than
``MAX_AGE_S`` are removed as new ones are written, so the folder stays bounded.
"""

from __future__ import annotations

import io
import secrets
import struct
import tempfile
import threading
import time
import zlib
from functools import lru_cache
from pathlib import Path

import datasets
import numpy as np
from PIL import Image

from inpaintbench.space.data import SampleStore
from inpaintbench.space.overlays import mask_overlay

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, 13 data bytes and CRC
SERVE_KEYWORD = b"inpaintbench-serving"
CACHED_SAMPLES = 256  # reveal images and masks kept decoded: a few MB each at 512 px
MAX_AGE_S = 600.0  # a served file only has to live until Gradio has copied it into its cache
_SWEEP_EVERY = 200


def with_serving_token(png: bytes) -> bytes:
    """The same PNG (same pixels) with a random tEXt chunk after IHDR: other bytes, so another hash and URL."""
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG that starts with IHDR")
    data = SERVE_KEYWORD + b"\x00" + secrets.token_hex(16).encode("ascii")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    return png[:_IHDR_END] + chunk + png[_IHDR_END:]


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # a reveal is shown once: speed over size
    return buffer.getvalue()


class ServedImages:
    def __init__(self, pool: SampleStore, directory: str | Path | None = None) -> None:
        self.pool = pool
        self.directory = Path(directory or tempfile.mkdtemp(prefix="inpaintbench-served-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        # Each part's image columns as undecoded bytes (one cheap Arrow view per column, made once).
        self._raw = {
            (name, column): part.select_columns([column]).cast_column(column, datasets.Image(decode=False))
            for name, part in pool.parts.items()
            for column in ("image", "mask", "original")
            if column in part.column_names
        }
        self._lock = threading.Lock()
        self._written = 0
        self.reveal_png = lru_cache(maxsize=CACHED_SAMPLES)(self._reveal_png)
        self.mask = lru_cache(maxsize=CACHED_SAMPLES)(self._mask)

    # --- bytes of a sample's images ---------------------------------------------------------------------------
    def raw_png(self, position: int, column: str) -> bytes:
        """The stored PNG bytes of ``column`` ("image" or "original") of the sample at ``position``."""
        entry = self.pool.index.iloc[position]
        value = self._raw[(entry["_part"], column)][int(entry["_row"])][column]
        data = value.get("bytes") if isinstance(value, dict) else None
        if data is None:  # a path-backed image (a local release written by another tool)
            data = Path(value["path"]).read_bytes()
        if not data.startswith(PNG_SIGNATURE):  # not our encoder's: re-encode once, losslessly
            with Image.open(io.BytesIO(data)) as image:
                data = _encode(image.convert("RGB"))
        return data

    def _mask(self, position: int) -> np.ndarray:
        sample_mask = self.raw_png(position, "mask")
        with Image.open(io.BytesIO(sample_mask)) as image:
            return np.asarray(image.convert("L")) > 127

    def _reveal_png(self, position: int, column: str, inpainted: bool) -> bytes:
        if not inpainted:
            return self.raw_png(position, column)
        with Image.open(io.BytesIO(self.raw_png(position, column))) as shown:
            return _encode(mask_overlay(shown.convert("RGB"), self.mask(position)))

    # --- files for Gradio -----------------------------------------------------------------------------------------
    def question_file(self, position: int, column: str) -> str:
        return self._write(with_serving_token(self.raw_png(position, column)))

    def reveal_file(self, position: int, column: str, inpainted: bool) -> str:
        return self._write(with_serving_token(self.reveal_png(position, column, inpainted)))

    def _write(self, data: bytes) -> str:
        path = self.directory / f"{secrets.token_hex(16)}.png"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # Gradio reads it at once: never half-written
        with self._lock:
            self._written += 1
            sweep = self._written % _SWEEP_EVERY == 0
        if sweep:
            self.sweep()
        return str(path)

    def sweep(self, max_age_s: float = MAX_AGE_S) -> int:
        """Remove served files older than ``max_age_s``; the number removed."""
        cutoff, removed = time.time() - max_age_s, 0
        for path in self.directory.glob("*.png"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # another thread swept it
                pass
        return removed
