"""The bytes of the one sample PNG encoding (``builder.shards.encode_png`` checks modes and calls this).

Format: 8-bit greyscale or RGB, not interlaced, chunks IHDR, one IDAT, IEND and nothing else; every row carries
PNG filter type 2 (Up: each byte minus the byte above it), and the filtered rows are one zlib stream written by
libdeflate (the ``deflate`` package) at level ``LEVEL``.

Why not PIL's writer (zlib level 6, a filter chosen per row by trying all five): it cost ~50 ms a 512 px photo
(164 kpx), about what an OpenCV Telea call costs, so builds on the fast backends spent about half their time
encoding. benchmarks/png_encoders.py, the embedded photos at 512 px, CPU ms per photo and bytes per pixel: PIL
level 6 55 ms 1.470; PIL level 1 21 ms 1.583; this encoder at level 1 5.1 ms 1.584, level 2 7.3 ms 1.541,
level 6 12.5 ms 1.510. Also measured and left out: a Paeth filter (3% fewer bytes for +5 ms), ISA-L and zlib-ng
(faster still, but their output depends on the CPU they run on), fpng (1.2 ms, but 1.84 B/px and a private
chunk). The generator encodes on a worker thread beside the backend calls (``builder.shard_pipeline``), which keeps
up with the fastest backends at level 1 and at level 2 alike: a 240-photo Telea+NS build used ~12 s of worker CPU
against ~22 s of backend calls on the main thread at either level. Level 2 then costs nothing in wall time and
writes 5% fewer bytes than level 1 (214 vs 225 MB there): 1.541 B/px, 4.8% more than PIL's level 6 at a seventh
of its time.

Deterministic: the bytes are a function of the pixels and of libdeflate's version (pinned through ``deflate`` in
pyproject.toml), on any CPU: libdeflate's CPU-specific code only fills hash tables and computes checksums, it never
changes which matches are chosen. Thread-safe, and mostly outside the GIL (numpy's subtraction, libdeflate's
compression and CRC).
"""

from __future__ import annotations

import struct

import deflate
import numpy as np

LEVEL = 2  # libdeflate compression level (see the module docstring for why 2)
UP_FILTER = 2  # PNG filter type of every row
# FLEVEL bits (RFC 1950) that libdeflate writes in the zlib header for LEVEL: 0 for level < 2, 1 below 6, 2 at 6.
ZLIB_FLEVEL = 0 if LEVEL < 2 else 1 if LEVEL < 6 else 2 if LEVEL == 6 else 3
SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {1: 0, 3: 2}  # channels -> IHDR colour type (greyscale, truecolour), at bit depth 8


def _chunk(kind: bytes, data) -> bytes:
    crc = deflate.crc32(data, deflate.crc32(kind))  # over the chunk type and data, as PNG wants
    return b"".join((struct.pack(">I", len(data)), kind, data, struct.pack(">I", crc)))


def filtered_rows(pixels: np.ndarray) -> np.ndarray:
    """The PNG scanlines of ``pixels`` (H x W or H x W x C, uint8): one filter-type byte, then the row minus the row
    above (modulo 256; the first row is its own difference from a row of zeros)."""
    height = pixels.shape[0]
    rows = pixels.reshape(height, -1)
    lines = np.empty((height, rows.shape[1] + 1), np.uint8)
    lines[:, 0] = UP_FILTER
    lines[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=lines[1:, 1:])  # uint8 arithmetic wraps: exactly PNG's modulo 256
    return lines


def encode(pixels: np.ndarray) -> bytes:
    """PNG bytes of ``pixels``: uint8, H x W (greyscale) or H x W x 3 (RGB)."""
    channels = 1 if pixels.ndim == 2 else pixels.shape[2] if pixels.ndim == 3 else 0
    if pixels.dtype != np.uint8 or channels not in COLOR_TYPES or 0 in pixels.shape:
        raise ValueError(f"PNG encoder: uint8 H x W or H x W x 3 pixels, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[channels], 0, 0, 0)
    stream = deflate.zlib_compress(filtered_rows(np.ascontiguousarray(pixels)), LEVEL)
    return b"".join((SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", stream), _chunk(b"IEND", b"")))
