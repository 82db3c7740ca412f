"""The training split, opened the way the harness opens evaluation data (``harness.data.open_eval_data``).

- a release folder: its ``train`` split (``data/<config>/train-*.parquet``), as published;
- a generator output dir: the rows the release's split rule puts in ``train`` (``builder.release.layout
  .plan_release`` with the default or a given split config), so a detector trained on a run never sees the
  photos, nor the held-out backends, that the release built from that run will test on.

Only a training split is ever returned: asking for a test, validation or out-of-domain split is refused, and
the returned identity is checked to be the train split (a bug upstream must not turn into a detector trained
on its own test set).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from inpaintbench.folders import MANIFEST_NAME, RELEASE_SUMMARY_NAME, folder_kind
from inpaintbench.harness.data import open_eval_data

TRAIN_SPLIT = "train"


class TrainingDataError(ValueError):
    """Data that cannot be trained on; the message names the path and the problem."""


@dataclass
class TrainingData:
    dataset: datasets.Dataset  # the harness's evaluation columns, train rows only
    identity: dict[str, Any]  # the harness's dataset identity, split = "train"
    backends: tuple[str, ...]  # inpainting backends present (the trained detector's in-domain set)


def check_training_split(split: str) -> None:
    if split != TRAIN_SPLIT:
        raise TrainingDataError(
            f"refusing to train on split {split!r}: a detector is trained on {TRAIN_SPLIT!r} only "
            "(validation picks settings, test and test_ood_* measure; training on them would report a fit, not a "
            "result)"
        )


def _backends(dataset: datasets.Dataset) -> tuple[str, ...]:
    return tuple(sorted({b for b, label in zip(dataset["backend"], dataset["label"], strict=True) if int(label) == 1}))


def _train_rows_of_run(root: Path, split_config_path: str | None) -> tuple[set[str], str, tuple[str, ...]]:
    """Sample ids the release rule assigns to train, the split config's digest, its held-out backends."""
    from inpaintbench.builder.release.inputs import GeneratorOutputError, load_generator_output
    from inpaintbench.builder.release.layout import plan_release
    from inpaintbench.builder.release.splits import default_split_config_path, load_split_config

    split_config = load_split_config(split_config_path or default_split_config_path())
    if TRAIN_SPLIT not in split_config.fractions:
        raise TrainingDataError(f"{split_config.source_file}: has no {TRAIN_SPLIT!r} split to train on")
    try:
        generated = load_generator_output(root, verify_hashes=False)  # open_eval_data checks the hashes
    except GeneratorOutputError as exc:
        raise TrainingDataError(str(exc)) from None
    plan = plan_release(generated, split_config, max_shard_bytes=1 << 40)
    train_ids = {row["sample_id"] for row in plan.rows if row["split"] == TRAIN_SPLIT}
    held_out = tuple(sorted({b for ood in split_config.out_of_domain for b in ood.backends}))
    return train_ids, split_config.digest, held_out


def open_training_data(path: str | Path, config: str | None = None, split: str = TRAIN_SPLIT,
                       split_config: str | None = None) -> TrainingData:
    check_training_split(split)
    root = Path(path)
    if not root.exists():
        raise TrainingDataError(f"{path}: no such file or directory")
    kind = folder_kind(root)
    if kind == "release":
        data = open_eval_data(root, config, split)
        identity = dict(data.identity)
        if identity.get("split") != TRAIN_SPLIT or data.ood_backends:
            raise TrainingDataError(f"{root}: opened split {identity.get('split')!r}, expected {TRAIN_SPLIT!r}")
        dataset = data.dataset
    elif kind == "run":
        if config:
            raise TrainingDataError(f"{root}: --config applies to release folders; a generator run has none")
        data = open_eval_data(root)
        train_ids, digest, held_out = _train_rows_of_run(root, split_config)
        keep = [i for i, sid in enumerate(data.dataset["sample_id"]) if sid in train_ids]
        dataset = data.dataset.select(keep)
        identity = {**data.identity, "split": TRAIN_SPLIT, "split_rule": "builder.release.splits",
                    "split_config": split_config or "default_splits.yaml", "split_config_digest": digest,
                    "held_out_backends": list(held_out), "num_samples": len(dataset)}
    else:
        raise TrainingDataError(
            f"{path}: not a release folder ({RELEASE_SUMMARY_NAME}) or generator output ({MANIFEST_NAME}); "
            "bare Parquet files carry no split, so train and test cannot be told apart"
        )
    if len(dataset) == 0:
        raise TrainingDataError(f"{path}: the {TRAIN_SPLIT!r} split is empty")
    return TrainingData(dataset=dataset, identity=identity, backends=_backends(dataset))
