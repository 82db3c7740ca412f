"""The dataset card (README.md) and its plot, generated from the release summary (itself built from the
generator's manifest and the rows actually released).

The card's YAML ``configs``/``data_files`` are how ``datasets`` >= 4 loads a Hub dataset (dataset scripts are
gone), so they are written from the same layout the Parquet files were written with: they cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json

import yaml

from .assessments import DECEIVING_CONFIG
from .splits import SplitConfig

PLOT_PATH = "images/counts.png"
PRETTY_NAME = "InpaintBench"
TAGS = ["image-forensics", "inpainting", "ai-generated-images", "manipulation-localization", "synthetic", "benchmark"]
TASK_CATEGORIES = ["image-classification", "image-segmentation"]
_SIZE_BUCKETS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]

CITATION = """```bibtex
@misc{inpaintbench,
  title        = {InpaintBench: a reproducible benchmark of AI-inpainted image forgeries},
  author       = {{The InpaintBench team}},
  year         = {2026},
  note         = {Dataset version v%(version)s%(repo_note)s}
}

@inproceedings{giakoumoglou2025sagi,
  title     = {{SAGI}: Semantically Aligned and Uncertainty Guided {AI} Image Inpainting},
  author    = {Giakoumoglou, Paschalis and Karageorgiou, Dimitrios and Papadopoulos, Symeon and Petrantonakis, Panagiotis C.},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year      = {2025},
  eprint    = {2502.06593},
  archivePrefix = {arXiv}
}
```"""


def size_category(n: int) -> str:
    for limit, name in _SIZE_BUCKETS:
        if n < limit:
            return name
    return "n>1T" if n >= 10**12 else "10M<n<100M"


def front_matter(summary: dict[str, Any], split_config: SplitConfig) -> dict[str, Any]:
    sources = list(summary["counts"]["source"])
    license_ids = sorted({split_config.licenses[s].id for s in sources})
    configs = []
    for name, config in summary["configs"].items():
        entry: dict[str, Any] = {"config_name": name}
        if name == "default":
            entry["default"] = True
        # Globs, not file lists: a split's files are exactly its "<split>-NNNNN-of-MMMMM" shards.
        entry["data_files"] = [{"split": split, "path": f"data/{name}/{split}-*"} for split in config["splits"]]
        configs.append(entry)
    return {
        "pretty_name": PRETTY_NAME,
        "license": license_ids[0] if len(license_ids) == 1 else license_ids,
        "task_categories": TASK_CATEGORIES,
        "size_categories": [size_category(summary["num_samples"])],
        "tags": TAGS,
        "configs": configs,
    }


def _table(counts: dict[str, dict[str, int]], splits: list[str], first_header: str) -> str:
    header = f"| {first_header} | " + " | ".join(splits) + " | total |"
    rule = "|---|" + "---:|" * (len(splits) + 1)
    lines = [header, rule]
    for value, by_split in counts.items():
        cells = [str(by_split.get(s, 0)) for s in splits] + [str(by_split.get("total", 0))]
        lines.append(f"| {value or '(empty)'} | " + " | ".join(cells) + " |")
    total = [str(sum(by.get(s, 0) for by in counts.values())) for s in splits]
    lines.append("| **all** | " + " | ".join(total) + f" | {sum(by.get('total', 0) for by in counts.values())} |")
    return "\n".join(lines)


def render_plot(summary: dict[str, Any], path: Path) -> None:
    """Stacked bars: samples per backend, split by split. Deterministic bytes (no timestamp metadata)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = summary["counts"]["backend"]
    splits = list(summary["counts"]["split"])
    backends = list(counts)
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.45 * max(len(backends), 2)), dpi=100)
    left = [0] * len(backends)
    for split in splits:
        values = [counts[b].get(split, 0) for b in backends]
        ax.barh(backends, values, left=left, label=split)
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(range(len(backends)), [f"{b} (pristine)" if b == "none" else b for b in backends])
    ax.invert_yaxis()
    ax.set_xlabel("samples")
    ax.set_title(f"{PRETTY_NAME} v{summary['version']}: samples per backend and split")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)  # never over the bars
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def render_card(summary: dict[str, Any], split_config: SplitConfig) -> str:
    version = summary["version"]
    repo = summary.get("repo_id") or "ORG/NAME"
    splits = list(summary["counts"]["split"])
    gen = summary["generator"]
    yaml_text = yaml.safe_dump(front_matter(summary, split_config), sort_keys=False, allow_unicode=True)
    counts = summary["counts"]

    config_lines = []
    for name, config in summary["configs"].items():
        split_text = ", ".join(f"`{s}` ({v['num_samples']})" for s, v in config["splits"].items())
        desc = f": {config['description']}" if config["description"] else (": every sample" if name == "default" else "")
        config_lines.append(f"- `{name}`{desc}. Splits: {split_text}.")

    ood_lines = []
    for ood in summary["split_config"]["out_of_domain"]:
        held = []
        if ood["backends"]:
            held.append("backends " + ", ".join(f"`{b}`" for b in ood["backends"]))
        if ood["sources"]:
            held.append("sources " + ", ".join(f"`{s}`" for s in ood["sources"]))
        shared = summary["ood_samples_with_in_domain_photo"].get(ood["split"], 0)
        excluded = summary.get("excluded_ood_samples_on_train_photos", {}).get(ood["split"], 0)
        ood_lines.append(
            f"- `{ood['split']}` holds out {' and '.join(held)}: their samples appear in no other split, and it "
            f"shares no photo with `train`: the {excluded} edits of train photos by held-out backends are left out of "
            f"the release (a detector would otherwise be tested on a photo, object and mask it trained on). "
            f"{shared} of its samples edit a photo that also appears (pristine or edited by another backend) in "
            f"`validation` or `test`."
        )
    declared = list(summary["split_config"]["fractions"]) + [o["split"] for o in summary["split_config"]["out_of_domain"]]
    empty = [s for s in declared if s not in summary["configs"]["default"]["splits"]]
    if empty:
        ood_lines.append(
            "- Declared but empty in this version (no sample fell in them, so they are absent from `data_files`): "
            + ", ".join(f"`{s}`" for s in empty) + "."
        )
    fractions = ", ".join(f"{s} {f:.0%}" for s, f in summary["split_config"]["fractions"].items())

    license_lines = [
        f"| `{source}` | `{split_config.licenses[source].id}` | {split_config.licenses[source].note or '-'} |"
        for source in counts["source"]
    ]
    skipped = gen.get("skipped_by_reason") or {}
    skipped_text = ", ".join(f"{reason}: {n}" for reason, n in skipped.items()) if skipped else "none"
    repo_note = f", https://huggingface.co/datasets/{summary['repo_id']}" if summary.get("repo_id") else ""

    sections = [
        f"---\n{yaml_text}---",
        f"# {PRETTY_NAME} v{version}",
        (
            "A benchmark of AI-inpainted image forgeries for detection and localization. Every sample is a photo "
            "(pristine) or the same photo with one object removed or replaced by an inpainting backend, with the "
            "exact mask, the original, the prompt, the backend and its parameters, and the per-sample seed. "
            f"This version holds **{summary['num_samples']} samples** from **{summary['num_source_photos']} source photos**."
        ),
        "## Load a version",
        (
            "Versions are git tags of this repository (`vMAJOR.MINOR.PATCH`); a tag never moves, so a paper that names a "
            "version gets exactly the same rows, in the same order:\n\n"
            "```python\nfrom datasets import load_dataset\n\n"
            f'ds = load_dataset("{repo}", revision="v{version}")               # config "default", all splits\n'
            f'test = load_dataset("{repo}", revision="v{version}", split="test")\n'
            f'first = next(iter(load_dataset("{repo}", revision="v{version}", split="test", streaming=True)))\n```\n\n'
            "Dataset scripts are gone from `datasets` >= 4: the YAML `configs` at the top of this card (Parquet "
            "`data_files` per split) are the loading path. For Python users who want a builder class, "
            "`inpaintbench.builder.hf_builder.InpaintBench` (a `datasets.GeneratorBasedBuilder`) mirrors the same "
            "configs, features and splits and reads this repository at a revision, or a local copy:\n\n"
            "```python\nfrom inpaintbench.builder.hf_builder import InpaintBench\n\n"
            f'builder = InpaintBench(config_name="default", release="{repo}", revision="v{version}")\n'
            'builder.download_and_prepare()\ntest = builder.as_dataset(split="test")\n```'
        ),
        "## Configs and splits",
        "\n".join(config_lines),
        (
            f"In-domain splits are drawn per **source photo** ({fractions}) by a salted hash of (source, photo id): "
            "every sample of a photo, its pristine copy included, is in the same split, and a later version that adds "
            "samples never moves an old one. Sample ids (`sample_id`) are stable across versions. Split config digest: "
            f"`{summary['split_config']['digest']}` (salt `{summary['split_config']['salt']}`)."
        ),
        "\n".join(ood_lines) if ood_lines else "This version has no out-of-domain split.",
        "## Counts",
        f"![samples per backend and split]({PLOT_PATH})",
        "### By split and label\n\n" + _table(counts["label"], splits, "label"),
        "### By backend\n\n" + _table(counts["backend"], splits, "backend"),
        "### By source\n\n" + _table(counts["source"], splits, "source"),
        "### By category of the edited object\n\n" + _table(counts["category"], splits, "category"),
        "### By strategy\n\n"
        + "`paste_back`: original pixels outside the mask; `full_regeneration`: every pixel went through the model "
        "(e.g. VAE re-encoding); `none`: pristine. Detectors behave very differently on the two.\n\n"
        + _table(counts["strategy"], splits, "strategy"),
        "### By action and mask variant\n\n" + _table(counts["action"], splits, "action") + "\n\n" + _table(counts["mask_variant"], splits, "mask variant"),
        *deceptiveness_sections(summary),
        "## Fields",
        (
            "`image` (what a detector sees), `mask` (L, 255 = inpainted; all zero for pristine), `original`, `label` "
            "(pristine / inpainted), `sample_id`, `source`, `source_image_id`, `object_id`, `category`, `action`, "
            "`replacement`, `replacement_score`, `prompt`, `backend`, `backend_params` (JSON), `strategy`, `seed`, "
            "`mask_variant`, `mask_dilation_pct`, `mask_area_fraction`, `width`, `height`, `extra` (JSON)"
            + (
                ", `deceptiveness`, `deceptiveness_ci_low`, `deceptiveness_ci_high` (float32; NaN for pristine or "
                "unassessed samples), `ugda_outcome` (`deceiving`, `uncertain`, `not_deceiving`, `invalid`; `n/a` for "
                "pristine; empty when unassessed). The schema is `inpaintbench.builder.schema.FEATURES` plus "
                "`inpaintbench.builder.release.assessments.ASSESSMENT_FEATURES`"
                if "assessment" in summary
                else ". The schema is `inpaintbench.builder.schema.FEATURES`"
            )
            + "; images are lossless PNG."
        ),
        "## How it was made",
        (
            f"Generated by `inpaintbench` {gen.get('inpaintbench_version')} (generator config hash "
            f"`{gen.get('config_hash')}`, seed `{gen.get('seed')}`; manifest sha256 `{gen.get('manifest_sha256')}`). "
            "For each source photo with annotated objects, the generator selects an object, plans an edit (removal, or "
            "a semantically aligned replacement with a context-aware prompt, after SAGI's SAOR), builds the mask "
            "(object, box or convex hull, optionally dilated) and inpaints it with a backend of the configured mix; the "
            "untouched photo is kept as a pristine sample. Seeds are derived from each sample's identity, so the "
            "release is reproducible byte for byte from the same config. "
            f"Inputs skipped by the generator: {gen.get('skipped', 0)} ({skipped_text})."
        ),
        "## Licenses",
        "| source | license | terms |\n|---|---|---|\n" + "\n".join(license_lines),
        "## Limitations and misuse risk",
        (
            "- The backends and photo sources are few; detectors that do well here may not generalise to other "
            "inpainting models, to resized or recompressed images, or to manipulations other than object removal "
            "and replacement. Use the out-of-domain splits to measure this, and report which split you used.\n"
            "- Images are stored losslessly; real-world forgeries are usually JPEG-compressed and resized, which "
            "changes detector behaviour a lot.\n"
            "- Masks are exact for what the backend was asked to change; `full_regeneration` samples also alter "
            "pixels outside the mask (imperceptibly), which pixel-level metrics do not count as manipulated.\n"
            "- Misuse: the pipeline that made this data can make convincing forgeries of real photos. The dataset is "
            "released to train and evaluate detectors; do not use it, or models trained to generate like it, to "
            "deceive. Photos with identifiable people are subject to their sources' terms."
        ),
        "## Citation",
        CITATION % {"version": version, "repo_note": repo_note},
    ]
    return "\n\n".join(sections) + "\n"


def _share_table(shares: dict[str, dict[str, Any]], first_header: str) -> str:
    lines = [f"| {first_header} | inpainted | judged | deceived | share deceived |", "|---|---:|---:|---:|---:|"]
    for value, block in shares.items():
        share = "-" if block["share_deceived"] is None else f"{block['share_deceived']:.0%}"
        lines.append(f"| {value} | {block['inpainted']} | {block['judged']} | {block['deceived']} | {share} |")
    return "\n".join(lines)


def deceptiveness_sections(summary: dict[str, Any]) -> list[str]:
    """The card's "Deceptiveness (UGDA)" section; nothing for a release without assessments."""
    record = summary.get("assessment")
    if record is None:
        return []
    repo, version = summary.get("repo_id") or "ORG/NAME", summary["version"]
    params = json.dumps(record["params"], sort_keys=True)
    overall = record["share_deceived"]["overall"] or {"judged": 0, "deceived": 0, "share_deceived": None}
    share = "-" if overall["share_deceived"] is None else f"{overall['share_deceived']:.0%}"
    if record["judge"] == "detector":
        caveat = (
            "**The judge here is the default weight-free `detector` judge, a weak proxy for a person or a VLM**: it "
            "answers from a forensic statistic (a harness detector under test-time augmentation), not from how the "
            "photo looks, so what fools it is not what fools a person (see docs/deceptiveness.md). Read these "
            "scores as a floor and a plumbing check, not as human deceptiveness."
        )
    else:
        caveat = (
            f"The judge is `{record['judge']}`, a model, not people: its verdicts measure what deceives that model "
            "(see docs/deceptiveness.md)."
        )
    return [
        "## Deceptiveness (UGDA)",
        (
            "Every inpainted sample was judged with SAGI's uncertainty-guided deceptiveness assessment "
            f"(`inpaintbench assess`): K = {record['trials']} seeded trials of (inpainted image alone; if judged real, "
            "the pair in both orders), and a Beta(1, 1) posterior on the share of trials that deceived. "
            "`deceptiveness` is its posterior mean, `deceptiveness_ci_low`/`deceptiveness_ci_high` its 95% interval, "
            "`ugda_outcome` the majority outcome. The config "
            f"`{DECEIVING_CONFIG}` keeps the inpainted samples whose outcome is `deceiving` or `uncertain` (the "
            "paper's filter) and every pristine photo, in the same splits as `default`."
        ),
        caveat,
        (
            f"Judge setup: judge `{record['judge']}`, parameters `{params}`, K = {record['trials']}, seed "
            f"{record['seed']}, judge key `{record['judge_key']}`; sidecar `{record['sidecar']}` sha256 "
            f"`{record['sidecar_sha256']}`. Overall, {overall['deceived']} of {overall['judged']} judged inpainted "
            f"samples deceived ({share})."
        ),
        "### Share deceived by backend\n\n" + _share_table(record["share_deceived"]["by_backend"], "backend"),
        "### Share deceived by split\n\n" + _share_table(record["share_deceived"]["by_split"], "split"),
        (
            "Keep only the samples the judge was confidently fooled by (the lower end of the 95% interval above "
            "one half; pristine and unassessed samples have NaN there, so this drops them):\n\n```python\n"
            f'ds = load_dataset("{repo}", revision="v{version}", split="test")\n'
            'confident = ds.filter(lambda r: r["deceptiveness_ci_low"] > 0.5)\n'
            f'deceiving = load_dataset("{repo}", "{DECEIVING_CONFIG}", revision="v{version}")  # majority-outcome filter\n```'
        ),
    ]


def write_card(dest: Path, summary: dict[str, Any], split_config: SplitConfig) -> None:
    render_plot(summary, dest / PLOT_PATH)
    (dest / "README.md").write_text(render_card(summary, split_config), encoding="utf-8")
