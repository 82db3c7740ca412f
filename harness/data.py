"""Open what is being evaluated and say exactly which data it is.

Three layouts are read with ``datasets.load_dataset("parquet", ...)``:
- a generator output dir: ``<dir>/manifest.json`` listing its shards (``data/*.parquet``), read and sha256-checked
  by ``builder.manifest`` (a broken manifest is an error, never a reason to guess the files);
- a release folder: ``<dir>/release.json`` + ``<dir>/data/<config>/<split>-*.parquet``;
- Parquet files directly (a file, a directory of ``*.parquet``, or a glob).
Every results file records the identity (version, manifest sha256, files) so numbers can be traced to bytes.
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from inpaintbench.digests import sha256_file
from inpaintbench.folders import (
    RELEASE_SUMMARY_NAME,
    ManifestError,
    ReleaseFolderError,
    check_shards,
    folder_kind,
    read_manifest,
    read_release_summary,
)
from inpaintbench.schema import COLUMNS

# Columns the harness reads; ``original`` (a third PNG per row) is never decoded.
EVAL_COLUMNS = (
    "sample_id",
    "label",
    "image",
    "mask",
    "source",
    "category",
    "backend",
    "strategy",
    "mask_area_fraction",
)


class DataError(ValueError):
    """The data to evaluate cannot be used; the message names the path and the problem."""


@dataclass
class EvalData:
    dataset: datasets.Dataset
    identity: dict[str, Any]
    # Backends of an out-of-domain release split (the detector never saw them), else empty.
    ood_backends: tuple[str, ...] = ()
    files: list[str] = field(default_factory=list)


def _files_digest(files: list[str]) -> str:
    """sha256 over (file name, file sha256) pairs: the identity of data that ships without a manifest."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{Path(path).name}\x1f{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def open_eval_data(path: str | Path, config: str | None = None, split: str | None = None) -> EvalData:
    root = Path(path)
    ood: tuple[str, ...] = ()
    kind = folder_kind(root)
    if kind == "release":
        try:
            summary = read_release_summary(root)
        except ReleaseFolderError as exc:
            raise DataError(str(exc)) from None
        configs = summary.get("configs") or {}
        config = config or ("default" if "default" in configs or not configs else next(iter(configs)))
        split = split or "test"
        files = sorted(glob.glob(str(root / "data" / config / f"{split}-*.parquet")))
        if not files:
            known = {c: sorted((v.get("splits") or {}).keys()) for c, v in configs.items()}
            raise DataError(f"{root}: no data/{config}/{split}-*.parquet (configs and splits: {known})")
        for item in (summary.get("split_config") or {}).get("out_of_domain") or []:
            if item.get("split") == split:
                ood = tuple(item.get("backends") or ())
        identity = {
            "kind": "release",
            "path": str(root),
            "version": str(summary.get("version", "unversioned")),
            "config": config,
            "split": split,
            "manifest_sha256": (summary.get("generator") or {}).get("manifest_sha256"),
            "release_json_sha256": sha256_file(root / RELEASE_SUMMARY_NAME),
            "out_of_domain_split": bool(ood) or split.startswith("ood"),
        }
    elif kind == "run":
        # sha256, not only sizes: results name the exact bytes they were computed on, and a shard edited in
        # place after generation must not be scored under the build's identity.
        try:
            manifest = read_manifest(root)
            files = [str(p) for p in check_shards(manifest, verify="sha256")]
        except ManifestError as exc:
            raise DataError(str(exc)) from None
        config_hash = str(manifest.data.get("config_hash") or "")
        identity = {
            "kind": "generator_output",
            "path": str(root),
            "version": f"run-{config_hash[:12]}" if config_hash else "unversioned-run",
            "config": None,
            "split": None,
            "manifest_sha256": manifest.sha256,
            "generator_seed": manifest.data["seed"],
        }
    else:
        if root.is_dir():
            files = sorted(glob.glob(str(root / "*.parquet")))
        elif root.is_file():
            files = [str(root)]
        else:
            files = sorted(glob.glob(str(path)))
        if not files:
            raise DataError(f"{path}: no Parquet files (expected a generator output dir, a release folder, "
                            "a .parquet file, a directory of them, or a glob)")
        identity = {"kind": "parquet", "path": str(path), "version": "unversioned", "config": None, "split": None,
                    "manifest_sha256": None}
    identity["files_sha256"] = _files_digest(files)
    identity["num_files"] = len(files)
    dataset = _load(files)
    identity["num_samples"] = len(dataset)
    return EvalData(dataset=dataset, identity=identity, ood_backends=ood, files=files)


def _load(files: list[str]) -> datasets.Dataset:
    try:
        dataset = datasets.load_dataset("parquet", data_files=files, split="train")
    except Exception as exc:  # pyarrow / datasets raise many types; the file list is what the user needs
        raise DataError(f"cannot read Parquet {files[:3]}{'...' if len(files) > 3 else ''}: {exc}") from None
    missing = [c for c in EVAL_COLUMNS if c not in dataset.column_names]
    if missing:
        raise DataError(f"{files[0]}: missing columns {missing} (expected the InpaintBench schema: {COLUMNS})")
    ids = dataset["sample_id"]
    if len(set(ids)) != len(ids):
        seen, dup = set(), []
        for i in ids:
            if i in seen:
                dup.append(i)
            seen.add(i)
        raise DataError(f"{files[0]}...: duplicate sample ids {dup[:5]}")
    return dataset.select_columns(list(EVAL_COLUMNS))
