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
FILTER_COLUMNS = ("label", "source", "backend", "category", "strategy", "split")
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

# (original, shown image, mask panel, metadata, status line, 1-based position actually shown)
View = tuple[Image.Image | None, Image.Image | None, Image.Image | None, pd.DataFrame, str, int]


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
                keep &= index[column].fillna("").astype(str) == ("" if value == BLANK else value)
        return list(index.index[keep])

    def show(self, backend: str | None, category: str | None, strategy: str | None, split: str | None,
             position: Any) -> View:
        """The older four-filter call (the app's "send to Detect" uses it with the shown sample's id as
        ``position``: that sample is among these filters' matches whatever the label and source filters are)."""
        return self.view(dict(backend=backend, category=category, strategy=strategy, split=split), position)

    def view(self, filters: dict[str, str | None], position: Any, overlay: bool = True, wrap: bool = False) -> View:
        """The sample at ``position`` (1-based, or a sample id) among those matching ``filters``.

        ``wrap``: Previous/Next step around the ends (and say so); a typed number outside 1..matches is shown
        as the nearest end, with a message saying there is no such sample. ``overlay``: the third panel shows
        the mask over the original (True) or the mask alone."""
        matches = self.matching_positions(filters)
        empty_table = pd.DataFrame({"field": [], "value": []})
        if not matches:
            why = "No data is loaded." if self.store is None else "No sample matches these filters: widen them."
            return None, None, None, empty_table, why, 0
        shown, note = self._resolve(matches, position, wrap)
        sample = self.store.sample(matches[shown - 1])
        mask = mask_overlay(sample["original"], sample["mask"]) if overlay else sample["mask"].convert("RGB")
        status = (
            f"Sample **{shown}** of **{len(matches)}** matching (of {len(self.store)}): "
            f"`{sample['sample_id']}` — **{sample['label']}**"
        )
        return sample["original"], sample["image"], mask, metadata_table(sample), note + status, shown

    def _resolve(self, matches: list[int], position: Any, wrap: bool) -> tuple[int, str]:
        """(1-based position to show, a note for the status line when it is not the one asked for)."""
        count = len(matches)
        if isinstance(position, str) and not position.strip().lstrip("-").isdigit():
            ids = [str(self.store.index.at[m, "sample_id"]) for m in matches]
            if position in ids:
                return ids.index(position) + 1, ""
            return 1, f"No sample `{position}` matches these filters; showing the first. "
        try:
            wanted = float(position)
        except (TypeError, ValueError):
            wanted = math.nan
        if math.isnan(wanted) or wanted != int(wanted):
            return 1, f"Sample # must be a whole number from 1 to {count} (got {position!r}); showing #1. "
        wanted = int(wanted)
        if 1 <= wanted <= count:
            return wanted, ""
        if wrap:
            shown = (wanted - 1) % count + 1
            return shown, ("Past the last sample: back to the first. " if shown == 1
                           else "Before the first sample: on to the last. ")
        shown = 1 if wanted < 1 else count
        return shown, f"**No sample #{wanted}**: {count} match these filters (1 to {count}); showing #{shown}. "


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
