"""Where the Space's samples come from: a local generator output, a local release folder, or a Hub dataset repo.

All three end up as ``datasets.Dataset`` objects (memory-mapped Arrow, so a large release does not sit in RAM)
plus one small pandas index of the metadata columns that the tabs filter and sample on. Images are decoded only
for the sample being shown.

Layouts recognised for a local folder:
- generator output: ``<dir>/manifest.json`` + the shards it lists, ``<dir>/data/train-XXXXX-of-YYYYY.parquet``
  (``inpaintbench generate``; without a manifest yet, every ``data/*.parquet``: ``inpaintbench.folders.run_shards``);
  one unsplit set: split from a ``split`` column, else ``all`` (the file names' "train" is only the Hub's default
  name, not a split the generator made);
- release folder: ``<dir>/data/<config>/<split>-*.parquet`` (+ README.md);
- a folder of ``*.parquet`` files: treated like generator shards.
Anything else that is not an existing path is taken as a Hub dataset repo id, read at ``revision``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import pandas as pd
import pyarrow.parquet as pq

from inpaintbench.folders import ManifestError, run_shards
from inpaintbench.schema import LABEL_NAMES
from inpaintbench.space.config import DEFAULT_LOCAL_DATA, SpaceConfig

# Columns the tabs need; a shard without them cannot be browsed.
REQUIRED_COLUMNS = ("sample_id", "label", "image", "mask", "original", "backend", "category", "strategy")
IMAGE_COLUMNS = ("image", "mask", "original")
ALL_SPLITS = "all"  # the split of samples whose source has no split notion
# datasets reserves "all" as a split name, so unsplit shards load under this part name and show as ALL_SPLITS.
UNSPLIT_PART = "shards"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class DataError(ValueError):
    """The configured data cannot be read; the message names the file or repo and what is wrong."""


@dataclass
class SampleStore:
    """Samples of one dataset config, any number of splits, with a metadata index for filtering."""

    parts: dict[str, datasets.Dataset]  # part name -> dataset (a split, or "all" when splits are a column)
    index: pd.DataFrame  # one row per sample: metadata + "split", "_part", "_row"
    description: str  # human-readable: where the data came from

    def __len__(self) -> int:
        return len(self.index)

    def sample(self, position: int) -> dict[str, Any]:
        """The decoded sample (PIL images, label as a name) at ``position`` of ``index``."""
        entry = self.index.iloc[position]
        sample = dict(self.parts[entry["_part"]][int(entry["_row"])])
        sample["label"] = _label_name(sample["label"])
        sample["split"] = entry["split"]
        return sample

    def position_of(self, sample_id: str) -> int:
        hits = self.index.index[self.index["sample_id"] == sample_id]
        if len(hits) == 0:
            raise KeyError(f"no sample with id {sample_id!r}")
        return int(hits[0])

    def choices(self, column: str) -> list[str]:
        return sorted(str(v) for v in self.index[column].dropna().unique())

    def subset(self, positions: list[int], description: str | None = None) -> SampleStore:
        """The samples at ``positions`` of ``index`` only, renumbered from 0; the Arrow data is shared, not copied."""
        positions = [int(p) for p in positions]
        if positions and not (0 <= min(positions) and max(positions) < len(self.index)):
            raise IndexError(f"positions must lie in 0..{len(self.index) - 1}, got {min(positions)}..{max(positions)}")
        index = self.index.iloc[positions].reset_index(drop=True)
        return SampleStore(parts=self.parts, index=index, description=description or self.description)


def _label_name(value: Any) -> str:
    return LABEL_NAMES[int(value)] if not isinstance(value, str) else value


def _check_parquet(path: Path) -> None:
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in schema.names]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (see inpaintbench.schema)")


def _local_parts(root: Path, config_name: str | None) -> tuple[dict[str, list[Path]], str]:
    """Parquet files of each split under ``root``, and which layout was found."""
    try:
        # Sizes, not sha256: the Space only shows a local build's samples; hashing every shard at each start
        # would cost minutes on a large build and decide nothing (a damaged shard fails naming itself anyway).
        generated = run_shards(root, verify="size")
    except ManifestError as exc:
        raise DataError(str(exc)) from None
    if generated:
        return {UNSPLIT_PART: generated}, f"generator output {root}"
    release = root / "data"
    if release.is_dir():
        configs = sorted(p.name for p in release.iterdir() if p.is_dir())
        if not configs:
            raise DataError(f"{release}: no config folders (expected data/<config>/<split>-*.parquet)")
        if config_name is None:
            config_name = "default" if "default" in configs else configs[0]
        elif config_name not in configs:
            raise DataError(f"{release}: no config {config_name!r} (found: {', '.join(configs)})")
        by_split: dict[str, list[Path]] = defaultdict(list)
        for file in sorted((release / config_name).glob("*.parquet")):
            by_split[file.name.split("-", 1)[0]].append(file)
        if not by_split:
            raise DataError(f"{release / config_name}: no <split>-*.parquet files")
        return dict(by_split), f"release folder {root} (config {config_name})"
    shards = sorted(root.glob("*.parquet"))
    if not shards:
        raise DataError(
            f"{root}: no Parquet shards (expected manifest.json + data/*.parquet from `inpaintbench generate`, "
            "data/<config>/<split>-*.parquet from a release, or *.parquet)"
        )
    return {UNSPLIT_PART: shards}, f"generator output {root}"


def _load_local(root: Path, config: SpaceConfig) -> tuple[dict[str, datasets.Dataset], str]:
    files_by_split, description = _local_parts(root, config.config_name)
    for files in files_by_split.values():
        for file in files:
            _check_parquet(file)
    data_files = {split: [str(f) for f in files] for split, files in files_by_split.items()}
    try:
        loaded = datasets.load_dataset("parquet", data_files=data_files, cache_dir=config.cache_dir)
    except Exception as exc:
        raise DataError(f"{root}: the Parquet files could not be loaded together ({exc})") from None
    return dict(loaded), description


def _load_hub(config: SpaceConfig) -> tuple[dict[str, datasets.Dataset], str]:
    try:
        loaded = datasets.load_dataset(
            config.data, name=config.config_name, revision=config.revision, cache_dir=config.cache_dir
        )
    except Exception as exc:
        raise DataError(f"Hub dataset {config.data!r} at revision {config.revision or 'main'}: {exc}") from None
    return dict(loaded), f"Hub dataset {config.data} @ {config.revision or 'main'}"


def load_store(config: SpaceConfig) -> SampleStore:
    """Read the data ``config`` points at; raise ``DataError`` with the file/repo and reason if it cannot."""
    root = Path(config.data)
    if root.exists():
        if not root.is_dir():
            raise DataError(f"{root}: expected a folder (generator output or release folder), got a file")
        parts, description = _load_local(root, config)
    elif config.data == DEFAULT_LOCAL_DATA or not _REPO_ID.match(config.data):
        raise DataError(
            f"{config.data}: no such folder. Build the embedded set with `inpaintbench generate`, or point "
            "INPAINTBENCH_DATA / --data at a generator output, a release folder or a Hub dataset repo id."
        )
    else:
        parts, description = _load_hub(config)
    for name, part in parts.items():
        missing = [c for c in REQUIRED_COLUMNS if c not in part.column_names]
        if missing:
            raise DataError(f"{description}, split {name}: missing column(s) {', '.join(missing)}")
    return SampleStore(parts=parts, index=_build_index(parts), description=description)


def _build_index(parts: dict[str, datasets.Dataset]) -> pd.DataFrame:
    frames = []
    for name, part in parts.items():
        meta = part.select_columns([c for c in part.column_names if c not in IMAGE_COLUMNS]).to_pandas()
        meta["label"] = [_label_name(v) for v in meta["label"]]
        default_split = ALL_SPLITS if name == UNSPLIT_PART else name
        if "split" not in meta.columns:
            meta["split"] = default_split
        meta["split"] = meta["split"].fillna(default_split).astype(str)
        meta["_part"] = name
        meta["_row"] = range(len(meta))
        frames.append(meta)
    index = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["_part", "_row", "split"])
    for column in ("backend", "category", "strategy"):
        index[column] = index[column].fillna("").astype(str)
    return index
