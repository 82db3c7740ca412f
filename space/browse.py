"""The Browse tab's logic: filter the samples, page through them, show original / result / mask side by side."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from PIL import Image

from inpaintbench.space.data import IMAGE_COLUMNS, SampleStore
from inpaintbench.space.overlays import mask_overlay

ANY = "All"  # the filter value that keeps everything
BLANK = "(none)"  # how an empty value (e.g. the category of a pristine sample) is listed and chosen
FILTER_COLUMNS = ("backend", "category", "strategy", "split")
# Metadata shown first, in this order; any other column follows.
METADATA_ORDER = (
    "sample_id",
    "label",
    "split",
    "backend",
    "strategy",
    "action",
    "category",
    "replacement",
    "prompt",
    "mask_variant",
    "mask_dilation_pct",
    "mask_area_fraction",
    "seed",
    "width",
    "height",
    "source",
    "source_image_id",
    "object_id",
    "replacement_score",
    "backend_params",
    "extra",
)


class Browser:
    def __init__(self, store: SampleStore | None) -> None:
        self.store = store

    def choices(self, column: str) -> list[str]:
        values = self.store.choices(column) if self.store is not None and len(self.store) else []
        return [ANY] + [v if v != "" else BLANK for v in values]

    def matching_positions(self, filters: dict[str, str | None]) -> list[int]:
        if self.store is None:
            return []
        index = self.store.index
        keep = pd.Series(True, index=index.index)
        for column, value in filters.items():
            if value not in (None, "", ANY):
                keep &= index[column] == ("" if value == BLANK else value)
        return list(index.index[keep])

    def show(
        self, backend: str | None, category: str | None, strategy: str | None, split: str | None, position: Any
    ) -> tuple[Image.Image | None, Image.Image | None, Image.Image | None, pd.DataFrame, str, int]:
        """(original, shown image, mask overlay, metadata, status line, 1-based position actually shown)."""
        filters = dict(zip(FILTER_COLUMNS, (backend, category, strategy, split)))
        matches = self.matching_positions(filters)
        empty_table = pd.DataFrame({"field": [], "value": []})
        if not matches:
            why = "No data is loaded." if self.store is None else "No sample matches these filters: widen them."
            return None, None, None, empty_table, why, 0
        # Wrap around both ways so "next" on the last sample goes to the first; bad input falls back to 1.
        try:
            wanted = int(position)
        except (TypeError, ValueError):
            wanted = 1
        if isinstance(position, float) and math.isnan(position):
            wanted = 1
        shown = (wanted - 1) % len(matches) + 1
        sample = self.store.sample(matches[shown - 1])
        overlay = mask_overlay(sample["original"], sample["mask"])
        status = (
            f"Sample **{shown}** of **{len(matches)}** matching (of {len(self.store)}): "
            f"`{sample['sample_id']}` — **{sample['label']}**"
        )
        return sample["original"], sample["image"], overlay, metadata_table(sample), status, shown


def metadata_table(sample: dict[str, Any]) -> pd.DataFrame:
    keys = [k for k in METADATA_ORDER if k in sample] + sorted(
        k for k in sample if k not in METADATA_ORDER and k not in IMAGE_COLUMNS
    )
    rows = []
    for key in keys:
        value = sample[key]
        if key in ("backend_params", "extra") and isinstance(value, str) and value:
            try:  # compact, one line, keys sorted: readable in a table cell
                value = json.dumps(json.loads(value), sort_keys=True)
            except json.JSONDecodeError:
                pass
        if isinstance(value, float):
            value = "" if math.isnan(value) else f"{value:.4g}"
        rows.append({"field": key, "value": str(value)})
    return pd.DataFrame(rows)
