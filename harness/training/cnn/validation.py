"""The validation split (which picks the best epoch) and its score, computed with the harness's metric code.

- a release folder: its ``validation`` split, as published;
- a generator output dir: the rows the release's split rule puts in ``validation`` (same rule and split config
  as ``training.data`` uses for ``train``, so the two are photo-disjoint).

Scoring goes through ``harness.reduce.summarize_prediction`` (map resized to the mask, histograms) and
``harness.scoring.compute_metrics``: the same numbers ``inpaintbench evaluate`` would report for these maps.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from inpaintbench.folders import MANIFEST_NAME, RELEASE_SUMMARY_NAME, folder_kind
from inpaintbench.harness.data import DataError, open_eval_data
from inpaintbench.harness.training.data import TrainingDataError

VALIDATION_SPLIT = "validation"


def open_validation_split(path: str | Path, config: str | None = None,
                          split_config: str | None = None) -> datasets.Dataset | None:
    """The validation rows, or None when the data have no validation split (then the last epoch is kept)."""
    root = Path(path)
    kind = folder_kind(root)
    if kind == "release":
        try:
            return open_eval_data(root, config, VALIDATION_SPLIT).dataset
        except DataError:
            return None
    if kind == "run":
        from inpaintbench.builder.release.inputs import GeneratorOutputError, load_generator_output
        from inpaintbench.builder.release.layout import plan_release
        from inpaintbench.builder.release.splits import default_split_config_path, load_split_config

        rule = load_split_config(split_config or default_split_config_path())
        if VALIDATION_SPLIT not in rule.fractions:
            return None
        try:
            generated = load_generator_output(root, verify_hashes=False)
        except GeneratorOutputError as exc:
            raise TrainingDataError(str(exc)) from None
        plan = plan_release(generated, rule, max_shard_bytes=1 << 40)
        ids = {row["sample_id"] for row in plan.rows if row["split"] == VALIDATION_SPLIT}
        dataset = open_eval_data(root).dataset
        keep = [i for i, sid in enumerate(dataset["sample_id"]) if sid in ids]
        return dataset.select(keep) if keep else None
    raise TrainingDataError(
        f"{path}: not a release folder ({RELEASE_SUMMARY_NAME}) or generator output ({MANIFEST_NAME})"
    )


def score_maps(predict, images) -> dict:
    """Harness metrics of ``predict(image) -> (map, score)`` over ``images`` (``crops.LoadedImage`` list)."""
    from inpaintbench.harness.reduce import summarize_prediction
    from inpaintbench.harness.scoring import compute_metrics

    summaries = []
    for item in images:
        heat, score = predict(item.image)
        summaries.append(summarize_prediction(heat, item.mask, score=score, label=int(item.inpainted)))
    return compute_metrics(summaries)
