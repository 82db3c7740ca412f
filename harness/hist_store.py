"""Exact histograms past the memory budget: spilled to a scratch file, read back a key range at a time.

A float map has about as many distinct values as pixels, so exact pooled metrics need about 24 bytes per pixel
somewhere: there is no exact summary of fixed size (the pooled AUC depends on the order of every inpainted pixel
against every pristine one). Past ``EntryBudget`` the histograms move to disk (24 bytes per distinct value per
image, written once) and the scorer reads them back one key range at a time (``scoring``), so resident memory stays
flat in the number of images while every value stays exact.

Each spilled histogram keeps in memory only a sparse index: every ``FENCE``-th key and its position, from which
the rows of any key range are located with one short read.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

from inpaintbench.harness.exact_hist import SparseHist

ENTRY = np.dtype([("key", "<u8"), ("pos", "<i8"), ("neg", "<i8")])
FENCE = 1024  # one in-memory index key per this many rows on disk


class SpillStore:
    """An append-only scratch file of histogram rows, removed when the store is garbage-collected."""

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ib-hist-", dir=directory)
        self.path = os.path.join(self._dir.name, "histograms.bin")
        self._file = open(self.path, "w+b")
        self.rows = 0

    def append(self, hist: SparseHist) -> SpilledHist:
        rows = np.empty(len(hist), ENTRY)
        rows["key"], rows["pos"], rows["neg"] = hist.keys, hist.pos, hist.neg
        self._file.seek(self.rows * ENTRY.itemsize)
        rows.tofile(self._file)
        self._file.flush()
        spilled = SpilledHist(self, self.rows, len(hist), hist.keys[::FENCE].copy())
        self.rows += len(hist)
        return spilled

    def read(self, start: int, count: int) -> np.ndarray:
        if count <= 0:
            return np.empty(0, ENTRY)
        return np.fromfile(self.path, dtype=ENTRY, count=count, offset=start * ENTRY.itemsize)


@dataclass(eq=False)
class SpilledHist:
    """A histogram on disk with the ``SparseHist`` interface; ``keys``/``pos``/``neg`` read the whole of it."""

    store: SpillStore
    start: int
    length: int
    fences: np.ndarray  # keys[::FENCE]

    def __len__(self) -> int:
        return self.length

    def load(self) -> SparseHist:
        rows = self.store.read(self.start, self.length)
        return SparseHist(rows["key"].copy(), rows["pos"].copy(), rows["neg"].copy())

    @property
    def keys(self) -> np.ndarray:
        return self.load().keys

    @property
    def pos(self) -> np.ndarray:
        return self.load().pos

    @property
    def neg(self) -> np.ndarray:
        return self.load().neg

    def rows_between(self, low: int, high: int | None) -> np.ndarray:
        """Rows with ``low <= key < high`` (``high`` None: no upper end), reading about one fence block more."""
        first = max(int(np.searchsorted(self.fences, np.uint64(low), "right")) - 1, 0) * FENCE
        if high is None:
            last = self.length
        else:
            last = min(int(np.searchsorted(self.fences, np.uint64(high), "left")) * FENCE, self.length)
        rows = self.store.read(self.start + first, last - first)
        keys = rows["key"]
        lo = int(np.searchsorted(keys, np.uint64(low), "left"))
        hi = len(keys) if high is None else int(np.searchsorted(keys, np.uint64(high), "left"))
        return rows[lo:hi]

    def __reduce__(self):
        # Crossing a process boundary (accelerate's gather): the rows travel, the scratch file does not.
        hist = self.load()
        return (SparseHist, (hist.keys, hist.pos, hist.neg))
