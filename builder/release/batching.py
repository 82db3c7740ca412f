"""Batch a release for training: every example to one fixed size, image and mask through the same geometry.

A release keeps every photo at its own size (the embedded default alone has 7), so a ``torch`` DataLoader with
``batch_size > 1`` over ``load_dataset(...)`` fails ("stack expects each tensor to be equal size"). One line fixes
that, for a ``Dataset`` and for a streaming ``IterableDataset`` alike::

    train = load_dataset(REPO, split="train").with_transform(fixed_size(512, mode="crop", seed=epoch))
    stream = stream.map(fixed_size(512, mode="crop"), remove_columns=stream.column_names)
    loader = torch.utils.data.DataLoader(train, batch_size=32, num_workers=4, shuffle=True)

Each example becomes (``S`` = ``size``):

- every image column (``image``; ``original`` too if listed in ``columns``): float32 ``[3, S, S]`` in [0, 1];
- ``mask``: uint8 ``[1, S, S]``, 1 = inpainted pixel, decoded by ``inpaintbench.gt_mask.binarize_gt`` (the one decoder
  of ground truth, so training and scoring read a mask alike) and moved with NEAREST, so it stays 0/1;
- ``valid``: bool ``[1, S, S]``, True where the pixel comes from the photo, False on padding (padding is 0 in
  every column: a padded pixel is "not inpainted" in the mask, so a loss or metric should skip it via ``valid``);
- ``label``: int64 (0 pristine, 1 inpainted: the whole photo's label), ``sample_id``: str, unchanged.

Other columns are dropped, so the default ``collate_fn`` stacks what is left (no custom collate is needed).

Modes:

- ``"crop"`` (the forensically faithful one): an ``S x S`` window of the photo's own pixels, untouched; a side
  shorter than ``S`` is padded. ``seed=None`` takes the centre window; an int draws the window from
  ``(seed, sample_id)``, so it is the same in every worker and run (pass ``seed=base + epoch`` for new windows
  each epoch). Inpainting detectors work on traces a few pixels wide: sensor noise and demosaicing correlations,
  the JPEG 8 x 8 grid, the spectral fingerprint of a diffusion model's VAE and upsamplers. Any resampling
  interpolates neighbouring pixels, which smooths those traces away or overwrites them with the resampler's own
  periodic pattern, by an amount that depends on each photo's scale factor, so a detector trained on resized
  images can learn the resize (that is, the photo's size, and thus its source) instead of the edit. A crop keeps
  every pixel as stored and only narrows the field of view. Its cost: a window may miss a small edited region,
  while ``label`` still says inpainted; ``mask.any()`` of the cropped mask says whether the edit is in view.
- ``"letterbox"``: the whole photo scaled (aspect kept, BILINEAR) to fit ``S``, centred on a zero canvas.
- ``"resize"``: the whole photo stretched to ``S x S`` (BILINEAR; aspect not kept).

The two resampling modes suit semantic models and quick baselines; they change the very pixels a forensic
detector looks at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from inpaintbench.gt_mask import binarize_gt
from inpaintbench.ids import derive_seed

MODES = ("letterbox", "resize", "crop")
MASK_COLUMN = "mask"
VALID_KEY = "valid"
# Window of the source (x0, y0, x1, y1), its size on the canvas (w, h), and where on the canvas it goes (x, y).
Geometry = tuple[tuple[int, int, int, int], tuple[int, int], tuple[int, int]]


def fixed_size(
    size: int = 512, *, columns: tuple[str, ...] = ("image", "mask"), mode: str = "letterbox", seed: int | None = None
) -> FixedSize:
    """A transform for ``Dataset.with_transform`` (a batch of columns) or ``IterableDataset.map`` (one example,
    or a batch with ``batched=True``) that brings every example to ``size x size``: see the module docstring."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"fixed_size: size must be a positive int, got {size!r}")
    if mode not in MODES:
        raise ValueError(f"fixed_size: mode must be one of {MODES}, got {mode!r}")
    if seed is not None and mode != "crop":
        raise ValueError(f"fixed_size: seed picks crop windows; mode {mode!r} has none (use mode='crop' or drop seed)")
    columns = tuple(columns)
    if not columns or len(set(columns)) != len(columns) or VALID_KEY in columns:
        raise ValueError(f"fixed_size: columns must be distinct column names (not {VALID_KEY!r}), got {columns!r}")
    return FixedSize(size, columns, mode, seed)


@dataclass(frozen=True)
class FixedSize:
    """Picklable (a module-level dataclass), so DataLoader workers get it under any start method."""

    size: int
    columns: tuple[str, ...]
    mode: str
    seed: int | None

    def __call__(self, examples: Mapping[str, Any]) -> dict[str, Any]:
        # with_transform hands over a batch (a list per column), map an example: the first column tells which.
        if not isinstance(examples.get(self.columns[0]), list):
            return self.example(examples)
        n = len(examples[self.columns[0]])
        done = [self.example({key: values[i] for key, values in examples.items()}) for i in range(n)]
        if not done:
            return {key: [] for key in (*self.columns, VALID_KEY, "label", "sample_id")}
        return {
            key: [d[key] for d in done] if key == "sample_id" else torch.stack([d[key] for d in done])
            for key in done[0]
        }

    def example(self, example: Mapping[str, Any]) -> dict[str, Any]:
        sample_id = example.get("sample_id")
        missing = [key for key in (*self.columns, "label", "sample_id") if key not in example]
        if missing:
            raise KeyError(f"fixed_size: sample {sample_id!r} has no column(s) {missing}; it has {sorted(example)}")
        arrays = {column: self._array(sample_id, column, example[column]) for column in self.columns}
        height, width = arrays[self.columns[0]].shape[:2]
        for column, array in arrays.items():
            if array.shape[:2] != (height, width):
                raise ValueError(
                    f"fixed_size: sample {sample_id!r}: {column} is {array.shape[1]}x{array.shape[0]} but "
                    f"{self.columns[0]} is {width}x{height}; they must line up pixel for pixel"
                )
        geometry = self._geometry(str(sample_id), width, height)
        out: dict[str, Any] = {}
        for column, array in arrays.items():
            if column == MASK_COLUMN:
                out[column] = torch.from_numpy(_place(array, geometry, self.size, Image.NEAREST)[None])
            else:
                placed = _place(array, geometry, self.size, Image.BILINEAR)
                out[column] = torch.from_numpy(placed).permute(2, 0, 1).float().div_(255.0)
        out[VALID_KEY] = torch.from_numpy(
            _place(np.ones((height, width), np.uint8), geometry, self.size, Image.NEAREST)[None] > 0
        )
        out["label"] = torch.tensor(int(example["label"]), dtype=torch.int64)
        out["sample_id"] = sample_id
        return out

    def _array(self, sample_id, column: str, value) -> np.ndarray:
        if not isinstance(value, Image.Image):
            raise TypeError(
                f"fixed_size: sample {sample_id!r}: column {column!r} holds {type(value).__name__}, not a decoded "
                "PIL image (was it cast with datasets.Image(decode=False)?)"
            )
        if column == MASK_COLUMN:
            try:
                return binarize_gt(value).astype(np.uint8)
            except ValueError as exc:
                raise ValueError(f"fixed_size: sample {sample_id!r}: mask: {exc}") from None
        return np.asarray(value.convert("RGB"))

    def _geometry(self, sample_id: str, width: int, height: int) -> Geometry:
        size = self.size
        if self.mode == "resize":
            return (0, 0, width, height), (size, size), (0, 0)
        if self.mode == "letterbox":
            scale = size / max(width, height)
            w, h = min(size, max(1, round(width * scale))), min(size, max(1, round(height * scale)))
            return (0, 0, width, height), (w, h), ((size - w) // 2, (size - h) // 2)
        rng = None if self.seed is None else np.random.default_rng(derive_seed(self.seed, "fixed_size.crop", sample_id))
        (x0, w, x), (y0, h, y) = (_crop_axis(length, size, rng) for length in (width, height))
        return (x0, y0, x0 + w, y0 + h), (w, h), (x, y)


def _crop_axis(length: int, size: int, rng: np.random.Generator | None) -> tuple[int, int, int]:
    """(start in the source, length taken, start on the canvas) along one axis: a window if the photo is longer
    than ``size`` (centred, or drawn by ``rng``), else all of it, centred on the canvas."""
    if length < size:
        return 0, length, (size - length) // 2
    start = (length - size) // 2 if rng is None else int(rng.integers(0, length - size + 1))
    return start, size, 0


def _place(array: np.ndarray, geometry: Geometry, size: int, resample) -> np.ndarray:
    (x0, y0, x1, y1), (w, h), (x, y) = geometry
    region = array[y0:y1, x0:x1]
    if (x1 - x0, y1 - y0) != (w, h):  # only letterbox and resize get here: crop never resamples
        region = np.asarray(Image.fromarray(region).resize((w, h), resample))
    canvas = np.zeros((size, size, *array.shape[2:]), array.dtype)
    canvas[y : y + h, x : x + w] = region
    return canvas
