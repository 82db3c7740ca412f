"""Lossless PNG encoders on the embedded photos at 512 px: CPU ms per photo and bytes per pixel.

    .venv/bin/python benchmarks/png_encoders.py

Compares the sample encoder (builder/png_encoder.py: Up filter + libdeflate) at several levels with PIL's writer
(adaptive filters + zlib), which made every sample PNG before. Every encoding is decoded again by PIL and compared
with the pixels. CPU time (``time.process_time``), best of 3 passes: steadier than wall time on a shared machine.
"""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image


def _pil(level: int):
    def encode(pixels: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()

    return encode


def _ours(level: int):
    from inpaintbench.builder import png_encoder

    def encode(pixels: np.ndarray) -> bytes:
        saved, png_encoder.LEVEL = png_encoder.LEVEL, level
        try:
            return png_encoder.encode(pixels)
        finally:
            png_encoder.LEVEL = saved

    return encode


def main() -> None:
    from inpaintbench.builder import png_encoder
    from inpaintbench.builder.sources import build_sources
    from inpaintbench.builder.work import plan_work

    source = build_sources([{"type": "embedded"}], max_side=512)[0]
    photos = [np.asarray(scene.image) for scene in (source.load(item.image_id) for item in plan_work([source]))
              if hasattr(scene, "image")]
    pixels = sum(p.shape[0] * p.shape[1] for p in photos)
    print(f"{len(photos)} embedded photos at <= 512 px, {pixels / len(photos) / 1000:.0f} kpx each on average")
    encoders = {"PIL zlib 6 (before)": _pil(6), "PIL zlib 1": _pil(1)}
    encoders.update({f"Up+libdeflate {level}" + (" (now)" if level == png_encoder.LEVEL else ""): _ours(level)
                     for level in (1, 2, 4, 6, 9)})
    print(f"{'encoder':<24}{'CPU ms/photo':>13}{'bytes/pixel':>13}")
    for name, encode in encoders.items():
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            data = [encode(p) for p in photos]
            best = min(best, time.process_time() - started)
        for p, d in zip(photos, data, strict=False):
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(d))), p), name
        print(f"{name:<24}{best / len(photos) * 1000:>13.1f}{sum(map(len, data)) / pixels:>13.3f}")


if __name__ == "__main__":
    main()
