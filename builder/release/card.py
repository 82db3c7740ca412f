"""The dataset card (README.md) and its plot, generated from the release summary (itself built from the
generator's manifest and the rows actually released).

The card's YAML ``configs``/``data_files`` are how ``datasets`` >= 4 loads a Hub dataset (dataset scripts are
gone), so they are written from the same layout the Parquet files were written with: they cannot disagree.

The rest of the front matter follows the Hub's dataset card conventions and is serialised by the clients' own
code (``huggingface_hub.DatasetCardData`` and ``datasets.DatasetInfosDict.to_dataset_card_data``), never by a
hand-rolled YAML shape: the ``dataset_info`` block (features and split sizes per config) is what lets
``datasets.load_dataset_builder(repo, revision=tag)`` know a version's schema and row counts before a byte of
data is downloaded, and what ``load_dataset`` checks the downloaded splits against.

Sections for summary keys that older releases lack (image sizes, duplicate photos, the file-level shortcut
audit, an example row, split sizes in bytes, features) are rendered only when the key is present, so an old
``release.json`` still renders. Same summary, same bytes: nothing here reads the clock or the environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import datasets
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCardData

from inpaintbench.schema import release_features

from .assessments import DECEIVING_CONFIG
from .splits import TRAINING_SPLIT, LicenseSpec, SplitConfig

PLOT_PATH = "images/counts.png"
PRETTY_NAME = "InpaintBench"
# The code's home, in the card and in pyproject.toml's [project.urls] (a test keeps the two equal). No public
# repository exists at this address yet: it is the name the project will be published under.
CODE_URL = "https://github.com/inpaintbench/inpaintbench"
SAGI_URL = "https://arxiv.org/abs/2502.06593"  # the method paper (SAOR planning, UGDA assessment)
SYNTHETIC_MIX_URL = "https://arxiv.org/abs/2310.01830"  # generated images help most mixed with real ones
TAGS = ["image-forensics", "inpainting", "ai-generated-images", "manipulation-localization", "synthetic", "benchmark"]
TASK_CATEGORIES = ["image-classification", "image-segmentation"]
# Pristine vs inpainted is a two-class image classification; the mask is a per-pixel two-class segmentation.
TASK_IDS = ["multi-class-image-classification", "semantic-segmentation"]
# Hub ids of the public datasets a source's photos come from ("extended|<id>"); any other source ("embedded"
# photos from Python wheels, a folder of one's own photos) is no dataset on the Hub: "original".
SOURCE_DATASETS = {"coco": "extended|coco"}
BATCHING_RECIPE = (
    "from inpaintbench.builder.release.batching import fixed_size; ds = ds.with_transform(fixed_size(512))"
)
MOST_COMMON_SIZES = 8
_SIZE_BUCKETS = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
]
# Front matter keys in the order a reader expects them (what the Hub shows first first).
_FRONT_MATTER_ORDER = [
    "pretty_name", "license", "license_name", "license_link", "language", "annotations_creators", "language_creators",
    "multilinguality", "size_categories", "source_datasets", "task_categories", "task_ids", "tags", "configs",
    "dataset_info",
]

# What each column means, with its values or range. Every column of release_features(True) must be here (a test
# checks it), so a new column cannot reach a card undocumented.
FIELD_DOCS = {
    "sample_id": "names one content forever: `<source>-<photo>-<16 hex>`, the hex derived from the sample's recipe "
                 "and result (`inpaintbench.ids.recompute_sample_id` recomputes it from a row)",
    "label": "0 = `pristine` (the untouched photo), 1 = `inpainted`",
    "image": "what a detector sees: the inpainted photo, or the untouched photo for pristine samples (RGB)",
    "mask": "L, 255 = pixels the backend was asked to change, 0 elsewhere; all zero for pristine; size of `image`",
    "original": "the source photo after normalisation (orientation, 8-bit RGB, size cap); equals `image` for pristine",
    "source": "where the photo comes from (`embedded`: photos shipped in Python wheels; `coco`: MS-COCO; or a "
              "folder source's name)",
    "source_image_id": "the photo's id within its source; every sample of one photo shares it, and its split",
    "object_id": "annotation id of the edited object; empty for pristine",
    "category": "category of the edited object, as its source annotates it; empty for pristine",
    "action": "`remove`, `replace`, or `none` (pristine)",
    "replacement": "the category painted in the object's place (`replace`); empty otherwise",
    "replacement_score": "scene-fit score of the replacement (weighted text-embedding similarities: higher fits "
                         "better; unbounded, not a probability); NaN when nothing was replaced",
    "prompt": "the inpainting prompt, in English; empty for pristine",
    "backend": "the inpainting backend (registry name); `none` for pristine",
    "backend_params": "JSON: the backend's name and every parameter of the call (schema below)",
    "strategy": "`paste_back` (original pixels outside the mask), `full_regeneration` (every pixel went through "
                "the model), `none` (pristine)",
    "seed": "the sample's seed, in [0, 2^63): derived from the run's seed and the sample's identity",
    "mask_variant": "`object`, `bbox` or `convex_hull`; empty for pristine",
    "mask_dilation_pct": "requested dilation of the mask as % of the object's area (>= 0; 0 for pristine)",
    "mask_area_fraction": "mask pixels / image pixels, in [0, 1] (0 for pristine)",
    "width": "image width in pixels (`image`, `mask` and `original` share it)",
    "height": "image height in pixels",
    "extra": "JSON: the mask, plan, backend and normalisation records (schema below)",
    "edit_id": "the edit the sample comes from (16 hex); two samples share it when one model call gave both "
               "strategies (backend param `strategy: both`); empty for pristine",
    "changed_mask": "L, 255 where `image` differs from `original` by more than 8 (of 255) in some channel: where "
                    "pixels really changed, beside `mask` (where they were asked to); all zero for pristine",
    "recipe": "JSON: how to make the sample again (schema below); `inpaintbench regenerate` replays it",
    "deceptiveness": "posterior mean of the share of judge trials the edit deceived, in [0, 1]; NaN for pristine or "
                     "unassessed",
    "deceptiveness_ci_low": "lower end of its 95% interval, in [0, 1]; NaN likewise",
    "deceptiveness_ci_high": "upper end of its 95% interval, in [0, 1]; NaN likewise",
    "ugda_outcome": "majority UGDA outcome: `deceiving`, `uncertain`, `not_deceiving`, `invalid`; `n/a` for "
                    "pristine; empty when unassessed",
}

JSON_COLUMNS_DOC = """`backend_params` (JSON object, keys sorted): `{}` for pristine samples; for an edit, `{"backend": <name>, ...}` with every parameter the backend was built with, enough to reproduce the call. Classical backends carry their few knobs (e.g. `{"backend": "patchmatch", "patch_size": 15}`); diffusion backends carry `model`, `variant`, `steps`, `guidance`, `scheduler`, `strategy`, `feather`, `blend`, `upscale`, `upscale_model`, `upscale_steps`, `dtype`, `device`, `working_long_side`, `max_pixels`, `oom_min_long_side` and their family's own (e.g. `strength`).

`recipe` (JSON object, keys sorted): `format` (1), `key` (the sample's identity its seed is derived from) and `run_seed`, `strategy`; for an edit also `seed` (the generator seed of the call), `backend_class`, `device` (kind), `libraries` (versions of diffusers, transformers, torch, numpy, Pillow, OpenCV, PyPatchMatch, inpaintbench), `call` (`members`: the samples of the same batched model call in call order, `position`: this one's), and for diffusion backends `pipeline_class`, `scheduler` (`class`, full `config`), `dtype` and `models` (each checkpoint as `{"id", "revision"}`: the Hub snapshot's commit, or `{"path", "sha256"}` for a local folder).

`extra` (JSON object, keys sorted):

- `normalisation` (every sample): what loading did to the photo, e.g. `annotation_frame`, `exif_transposed`/`exif_orientation`, `mode_converted`/`mode_conversion`, `icc_profile` (how an embedded colour profile was applied, then dropped), `scale`/`resized_from`/`resized_to`;
- edits only: `mask` (`mask_variant`, `mask_dilation_pct` asked and `mask_dilation_pct_achieved`, `mask_area_fraction`, `object_pixels`, `variant_pixels`, `mask_pixels`), `negative_prompt`, `planner` (`simple` or `saor`), `plan` (the planner's record: SAOR's `saor_candidates` as `[name, score]` pairs, `saor_removal_reason`, `saor_prompt_writer`; `{}` for `simple`), `backend` (the backend's record of the call: for diffusion backends `family`, `working_size`, `scheduler`, `batch_size`, `resize`, `feather`, `blend`, and `oom_fallback_size`/`planned_working_size`/`oom_batch_split` when memory ran out; `{}` for classical backends), `changed_mask` (`threshold`, `changed_fraction` of the image, `outside_mask_fraction`: the share of changed pixels outside `mask`)."""  # noqa: E501

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
```"""  # noqa: E501


def size_category(n: int) -> str:
    for limit, name in _SIZE_BUCKETS:
        if n < limit:
            return name
    return "n>1T" if n >= 10**12 else "10M<n<100M"


# ---- front matter ------------------------------------------------------------------------------------------


def _license_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


def license_metadata(summary: dict[str, Any], split_config: SplitConfig) -> dict[str, Any]:
    """``license`` (+ ``license_name``/``license_link`` for ``other``) for the sources this version holds.

    One set of terms for every source: that id (and, for ``other``, its name and link). Several: the Hub takes a
    list of ids but only one name and one link, and a list would read as "pick any of these", which a per-source
    mix is not. So a mix is ``license: other``, named ``mixed-<a>-and-<b>`` after each source's terms, and linked
    to this version's own Licenses section (the per-source table), or to the first source's link when the card
    names no repo (such a card is never published: publish refuses a folder built for no repo)."""
    sources = list(summary["counts"]["source"])
    if not sources:
        raise ValueError("release summary counts no source: there is nothing to state a license for")
    terms: dict[tuple[str, str, str], LicenseSpec] = {}
    for source in sources:
        spec = split_config.licenses[source]
        terms.setdefault((spec.id, spec.name, spec.link), spec)
    if len(terms) == 1:
        spec = next(iter(terms.values()))
        return {
            "license": spec.id,
            **({"license_name": spec.name, "license_link": spec.link} if spec.id == "other" else {}),
        }
    labels = sorted({_license_slug(spec.name if spec.id == "other" else spec.id) for spec in terms.values()})
    if summary.get("repo_id"):
        link = f"https://huggingface.co/datasets/{summary['repo_id']}/blob/v{summary['version']}/README.md#licenses"
    else:
        link = next(
            (split_config.licenses[s].link for s in sorted(sources) if split_config.licenses[s].link), "README.md"
        )
    return {"license": "other", "license_name": "mixed-" + "-and-".join(labels), "license_link": link}


def source_datasets(sources: list[str]) -> list[str]:
    return sorted({SOURCE_DATASETS.get(source, "original") for source in sources})


def release_features_of(summary: dict[str, Any]) -> datasets.Features:
    """The release's features as release.json records them, else the schema its assessments imply."""
    if summary.get("features"):
        return datasets.Features.from_dict(summary["features"])
    return release_features("assessment" in summary)


def dataset_infos(summary: dict[str, Any]) -> DatasetInfosDict:
    """Per config: features, and split sizes when the summary records every split's bytes.

    ``num_bytes`` is a split's Parquet bytes (its images are stored PNG bytes, so Arrow holds about as much) and
    ``download_size`` = ``dataset_size`` = their sum. A config whose splits lack ``num_bytes`` (releases from
    before it was recorded) gets its features only: ``datasets`` rejects a split entry without bytes, and a
    made-up 0 would be a false statement."""
    features = release_features_of(summary)
    infos = DatasetInfosDict()
    for name, config in summary["configs"].items():
        splits = config["splits"]
        if splits and all("num_bytes" in split for split in splits.values()):
            split_dict = datasets.SplitDict.from_split_dict(
                [{"name": s, "num_examples": v["num_samples"], "num_bytes": v["num_bytes"]} for s, v in splits.items()]
            )
            size = sum(v["num_bytes"] for v in splits.values())
            infos[name] = datasets.DatasetInfo(
                features=features, splits=split_dict, download_size=size, dataset_size=size
            )
        else:
            infos[name] = datasets.DatasetInfo(features=features)
    return infos


def card_data(summary: dict[str, Any], split_config: SplitConfig) -> DatasetCardData:
    sources = list(summary["counts"]["source"])
    configs = []
    for name, config in summary["configs"].items():
        entry: dict[str, Any] = {"config_name": name}
        if name == "default":
            entry["default"] = True
        # Globs, not file lists: a split's files are exactly its "<split>-NNNNN-of-MMMMM" shards.
        entry["data_files"] = [{"split": split, "path": f"data/{name}/{split}-*"} for split in config["splits"]]
        configs.append(entry)
    data = DatasetCardData(
        pretty_name=PRETTY_NAME,
        **license_metadata(summary, split_config),
        language=["en"],  # the prompts
        annotations_creators=["machine-generated"],  # labels and masks come from the generator itself
        language_creators=["machine-generated"],  # prompts are written by the planner (templates or a model)
        multilinguality="monolingual",
        size_categories=[size_category(summary["num_samples"])],
        source_datasets=source_datasets(sources),
        task_categories=TASK_CATEGORIES,
        task_ids=TASK_IDS,
        tags=TAGS,
        configs=configs,
    )
    dataset_infos(summary).to_dataset_card_data(data)
    return data


def front_matter(summary: dict[str, Any], split_config: SplitConfig) -> dict[str, Any]:
    """The card's YAML metadata as a dict (what ``yaml.safe_load`` of the front matter gives back)."""
    return card_data(summary, split_config).to_dict()


def front_matter_yaml(summary: dict[str, Any], split_config: SplitConfig) -> str:
    return card_data(summary, split_config).to_yaml(original_order=_FRONT_MATTER_ORDER)


# ---- body --------------------------------------------------------------------------------------------------


def snippet_split(summary: dict[str, Any]) -> str | None:
    """The split the loading snippets name: one this version has. ``test``, else the default config's first
    split that is not ``train``, else its first split (None: the version has no rows)."""
    splits = list(summary["configs"].get("default", {}).get("splits", {}))
    if "test" in splits:
        return "test"
    return next((s for s in splits if s != TRAINING_SPLIT), splits[0] if splits else None)


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
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(range(len(backends)), [f"{b} (pristine)" if b == "none" else b for b in backends])
    ax.invert_yaxis()
    ax.set_xlabel("samples")
    ax.set_title(f"{PRETTY_NAME} v{summary['version']}: samples per backend and split")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)  # never over the bars
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def loading_sections(summary: dict[str, Any]) -> list[str]:
    repo, version = summary.get("repo_id") or "ORG/NAME", summary["version"]
    split = snippet_split(summary)
    lines = [
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{repo}", revision="v{version}")  # config "default", all splits',
    ]
    if split is not None:
        lines += [
            f'{split} = load_dataset("{repo}", revision="v{version}", split="{split}")',
            f'first = next(iter(load_dataset("{repo}", revision="v{version}", split="{split}", streaming=True)))',
        ]
    builder = ["from inpaintbench.builder.hf_builder import InpaintBench", "",
               f'builder = InpaintBench(config_name="default", release="{repo}", revision="v{version}")',
               "builder.download_and_prepare()"]
    builder.append(
        f'{split} = builder.as_dataset(split="{split}")' if split is not None else "ds = builder.as_dataset()"
    )
    return [
        "## Load a version",
        (
            "Versions are git tags of this repository (`vMAJOR.MINOR.PATCH`); a tag never moves, so a paper that "
            "names a version gets exactly the same rows, in the same order:\n\n```python\n"
            + "\n".join(lines)
            + "\n```\n\n"
            "The features and split sizes of every config are in this card's `dataset_info`, so "
            f'`datasets.load_dataset_builder("{repo}", revision="v{version}").info` knows them before any data is '
            "downloaded. Dataset scripts are gone from `datasets` >= 4: the YAML `configs` at the top of this card "
            "(Parquet `data_files` per split) are the loading path. For Python users who want a builder class, "
            "`inpaintbench.builder.hf_builder.InpaintBench` (a `datasets.GeneratorBasedBuilder`) mirrors the same "
            "configs, features and splits and reads this repository at a revision, or a local copy:\n\n"
            "```python\n" + "\n".join(builder) + "\n```"
        ),
        "### Install the package",
        (
            f"The builder class, the batching transform and the generator are in the `inpaintbench` package (code: "
            f"[{CODE_URL}]({CODE_URL})); `load_dataset` alone needs only `datasets`. On a CPU machine install torch "
            "first, pinned, or a bare torch requirement pulls gigabytes of CUDA wheels:\n\n```bash\n"
            "pip install torch==2.13.0\n"
            f"pip install inpaintbench        # or: pip install git+{CODE_URL}\n```"
        ),
    ]


def _config_lines(summary: dict[str, Any]) -> str:
    lines = []
    for name, config in summary["configs"].items():
        split_text = ", ".join(f"`{s}` ({v['num_samples']})" for s, v in config["splits"].items())
        desc = (
            f": {config['description']}" if config["description"] else (": every sample" if name == "default" else "")
        )
        lines.append(f"- `{name}`{desc}. Splits: {split_text}.")
    return "\n".join(lines)


def _ood_lines(summary: dict[str, Any]) -> str:
    lines = []
    for ood in summary["split_config"]["out_of_domain"]:
        held = []
        if ood["backends"]:
            held.append("backends " + ", ".join(f"`{b}`" for b in ood["backends"]))
        if ood["sources"]:
            held.append("sources " + ", ".join(f"`{s}`" for s in ood["sources"]))
        shared = summary["ood_samples_with_in_domain_photo"].get(ood["split"], 0)
        excluded = summary.get("excluded_ood_samples_on_train_photos", {}).get(ood["split"], 0)
        lines.append(
            f"- `{ood['split']}` holds out {' and '.join(held)}: their samples appear in no other split, and it "
            f"shares no photo with `train`: the {excluded} edits of train photos by held-out backends are left out of "
            f"the release (a detector would otherwise be tested on a photo, object and mask it trained on). "
            f"{shared} of its samples edit a photo that also appears (pristine or edited by another backend) in "
            f"`validation` or `test`."
        )
    declared = list(summary["split_config"]["fractions"]) + [
        o["split"] for o in summary["split_config"]["out_of_domain"]
    ]
    empty = [s for s in declared if s not in summary["configs"]["default"]["splits"]]
    if empty:
        lines.append(
            "- Declared but empty in this version (no sample fell in them, so they are absent from `data_files`): "
            + ", ".join(f"`{s}`" for s in empty) + "."
        )
    return "\n".join(lines) if lines else "This version has no out-of-domain split."


def duplicates_text(summary: dict[str, Any]) -> list[str]:
    record = summary.get("duplicates")
    if record is None:
        return []
    return [
        "Duplicate photos are grouped before splitting: photos identical by pixel hash, or near-identical by "
        f"perceptual hash (at most {record['phash_max_distance']} bits apart), across sources and ids, count as one "
        f"photo, so all their samples land in one split. This version has {record['exact_groups']} group(s) of "
        f"identical and {record['near_groups']} group(s) of near-identical photos, {record['photos_in_groups']} "
        f"photos in all. Method: {record['method']}."
    ]


def split_sections(summary: dict[str, Any]) -> list[str]:
    fractions = ", ".join(f"{s} {f:.0%}" for s, f in summary["split_config"]["fractions"].items())
    return [
        "## Configs and splits",
        _config_lines(summary),
        (
            f"In-domain splits are drawn per **source photo** ({fractions}) by a salted hash of (source, photo id): "
            "every sample of a photo, its pristine copy included, is in the same split, and a later version that adds "
            "samples never moves an old one. A sample id names one content forever: it is derived from the sample's "
            "recipe, and publish refuses a release in which an existing id has other pixels. Versions are semantic "
            "and publish enforces them against every published version: within a major version the evaluation splits "
            "(every split but `train`) keep exactly their samples, a minor version only adds (samples to `train`, "
            "columns, configs, splits), and removing or retyping anything needs a new major version. Split config "
            f"digest: `{summary['split_config']['digest']}` (salt `{summary['split_config']['salt']}`)."
        ),
        *duplicates_text(summary),
        _ood_lines(summary),
    ]


def _type_name(feature: Any) -> str:
    if isinstance(feature, datasets.ClassLabel):
        return "class label (int64)"
    if isinstance(feature, datasets.Image):
        return "image (PNG)"
    if isinstance(feature, datasets.Value):
        return feature.dtype
    return type(feature).__name__


def _span(bounds: dict[str, int]) -> str:
    return str(bounds["min"]) if bounds["min"] == bounds["max"] else f"{bounds['min']}-{bounds['max']}"


def _size_range(summary: dict[str, Any], axis: str) -> str:
    sizes = summary.get("image_sizes")
    return f"; {_span(sizes[axis])} in this version" if sizes else ""


def field_sections(summary: dict[str, Any]) -> list[str]:
    features = release_features_of(summary)
    rows = ["| field | type | meaning |", "|---|---|---|"]
    for name, feature in features.items():
        meaning = FIELD_DOCS.get(name, "(not documented yet)")
        if name in ("width", "height"):
            meaning += _size_range(summary, name)
        rows.append(f"| `{name}` | {_type_name(feature)} | {meaning} |")
    schema = (
        "The schema is `inpaintbench.schema.FEATURES`"
        + (" plus `inpaintbench.builder.release.assessments.ASSESSMENT_FEATURES`" if "assessment" in summary else "")
        + "; images are lossless PNG. The label mapping is 0 = pristine, 1 = inpainted "
        "(`ds.features[\"label\"].int2str`)."
    )
    out = ["## Fields", "\n".join(rows), schema, "### JSON columns", JSON_COLUMNS_DOC]
    example = summary.get("example_row")
    if example:
        # Column order, whatever order the summary's dict has (release.json is written with sorted keys).
        ordered = {name: example[name] for name in features if name in example}
        ordered.update(sorted((k, v) for k, v in example.items() if k not in ordered))
        out += [
            "### An example row",
            "Every column but the three images, of one released row (JSON has no NaN: `null` marks a NaN float):"
            "\n\n```json\n" + json.dumps(ordered, indent=2, ensure_ascii=False) + "\n```",
        ]
    out += image_size_sections(summary)
    return out


def image_size_sections(summary: dict[str, Any]) -> list[str]:
    sizes = summary.get("image_sizes")
    if not sizes:
        return []
    common = sorted(sizes["sizes"].items(), key=lambda kv: (-kv[1], kv[0]))
    table = ["| width x height | samples |", "|---|---:|"] + [
        f"| {size} | {n} |" for size, n in common[:MOST_COMMON_SIZES]
    ]
    rest = len(common) - MOST_COMMON_SIZES
    more = f" ({rest} more size(s) not shown)" if rest > 0 else ""
    why = (
        "Sizes vary, so a `torch` `DataLoader` with a batch size over 1 cannot stack raw rows."
        if len(common) > 1
        else "All images of this version share one size; other versions' need not."
    )
    return [
        "### Image sizes",
        (
            f"Images keep their photo's size: width {_span(sizes['width'])} px, height {_span(sizes['height'])} px, "
            f"{len(common)} distinct size(s) over all released samples. The most common{more}:\n\n" + "\n".join(table)
        ),
        (
            f"{why} One line gives fixed-size tensors (image, and mask with exactly the same geometry):\n\n"
            f"```python\n{BATCHING_RECIPE}\n```\n\n"
            "Its docstring lists the modes: resampling alters the very traces a forensic detector looks for, so "
            "prefer a crop over a resize when that matters."
        ),
    ]


def shortcut_audit_sections(summary: dict[str, Any]) -> list[str]:
    audit = summary.get("shortcut_audit")
    if audit is None:
        return []
    rows = ["| config | out-of-fold ROC AUC | chance sd | n | non-canonical files (pristine / inpainted) "
            "| pixel compressibility AUC | most telling file properties |", "|---|---:|---:|---:|---:|---:|---|"]
    for name, block in audit["configs"].items():
        # A config with too few photos of a class cannot be cross-validated by photo: the audit says why.
        auc = "not measured" if block["auc"] is None else f"{block['auc']:.3f}"
        telling = ", ".join(f"`{f}`" for f in block.get("top_features") or []) or "-"
        if block["auc"] is None and block.get("reason"):
            telling = block["reason"]
        sd = f"{block['chance_sd']:.3f}" if block.get("chance_sd") is not None else "-"
        # Releases audited before the canonical check have neither key: "-".
        noncanonical = block.get("noncanonical")
        noncanonical = f"{noncanonical['pristine']} / {noncanonical['inpainted']}" if noncanonical else "-"
        compressibility = (block.get("pixel_compressibility") or {}).get("auc")
        compressibility = "-" if compressibility is None else f"{compressibility:.3f}"
        rows.append(f"| `{name}` | {auc} | {sd} | {block['n']} | {noncanonical} | {compressibility} | {telling} |")
    min_z = audit.get("min_z")
    rule = f"AUC <= {audit['bound']}" + (f", or within {min_z:g} chance sds of 0.5" if min_z else "")
    if audit["passed"]:
        verdict = (
            f"Every measured config passes ({rule}): no file-level shortcut was found. The chance sd is the spread "
            "of an AUC between labels the files know nothing about (the Mann-Whitney null): with few samples the "
            "AUC scatters that far around 0.5, so it is a hint, not a proof."
        )
    else:
        verdict = (
            f"**The audit did not pass** ({rule}): a classifier can tell the labels apart "
            "from file properties alone in at least one config. It was released anyway, for this stated reason: "
            f"{audit.get('override_reason') or '(none given)'}"
        )
    return [
        "## File-level shortcut audit",
        (
            "A classifier was fitted to tell pristine from inpainted samples from properties of the `image` file "
            f"alone, never its pixels, and cross-validated over {audit['folds']} folds grouped by source photo. "
            f"Classifier: `{audit['classifier']}`. File properties: "
            + ", ".join(f"`{f}`" for f in audit["features"])
            + ". An AUC near 0.5 means "
            "the files carry no shortcut (a detector cannot score by reading, say, a PNG chunk that only one "
            "class has); "
            "near 1 means they do. A file that is byte for byte the canonical encoding of its own pixels (the one "
            "sample encoder's output for them) has compressed sizes that are a function of its pixels, so those "
            "sizes are left out of the verdict; a non-canonical file keeps them and is flagged. The pixel "
            "compressibility AUC is the same classifier on every file's sizes alone: how well the pixels compress "
            "tells the labels apart that well (a smooth fill compresses better). It is a property of the pixels, "
            "which any pixel detector sees, reported and never a failure."
        ),
        "\n".join(rows),
        verdict,
    ]


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
    split = snippet_split(summary)
    snippet = []
    if split is not None:
        snippet += [
            f'ds = load_dataset("{repo}", revision="v{version}", split="{split}")',
            'confident = ds.filter(lambda r: r["deceptiveness_ci_low"] > 0.5)',
        ]
    if DECEIVING_CONFIG in summary["configs"]:
        snippet.append(
            f'deceiving = load_dataset("{repo}", "{DECEIVING_CONFIG}", revision="v{version}")'
            "  # majority-outcome filter"
        )
    out = [
        "## Deceptiveness (UGDA)",
        (
            "Every inpainted sample was judged with SAGI's uncertainty-guided deceptiveness assessment "
            f"({SAGI_URL}; `inpaintbench assess`): K = {record['trials']} seeded trials of (inpainted image alone; if "
            "judged real, the pair in both orders), and a Beta(1, 1) posterior on the share of trials that deceived. "
            "`deceptiveness` is its posterior mean, `deceptiveness_ci_low`/`deceptiveness_ci_high` its 95% interval, "
            "`ugda_outcome` the majority outcome. The config "
            f"`{DECEIVING_CONFIG}` keeps the inpainted samples whose outcome is `deceiving` or `uncertain` (the "
            "paper's filter) and every pristine photo, in the same splits as `default`."
        ),
        caveat,
        (
            f"Judge setup: judge `{record['judge']}`, parameters `{params}`, K = {record['trials']}, seed "
            f"{record['seed']}, judge key `{record['judge_key']}`; assessments file `{record['sidecar']}` sha256 "
            f"`{record['sidecar_sha256']}`. Overall, {overall['deceived']} of {overall['judged']} judged inpainted "
            f"samples deceived ({share})."
        ),
        "### Share deceived by backend\n\n" + _share_table(record["share_deceived"]["by_backend"], "backend"),
        "### Share deceived by split\n\n" + _share_table(record["share_deceived"]["by_split"], "split"),
    ]
    if snippet:
        out.append(
            "Keep only the samples the judge was confidently fooled by (the lower end of the 95% interval above "
            "one half; pristine and unassessed samples have NaN there, so this drops them):\n\n```python\n"
            + "\n".join(snippet) + "\n```"
        )
    return out


def _license_table(summary: dict[str, Any], split_config: SplitConfig) -> str:
    lines = ["| source | license | terms | notes |", "|---|---|---|---|"]
    for source in summary["counts"]["source"]:
        spec = split_config.licenses[source]
        terms = f"[{spec.name or spec.link}]({spec.link})" if spec.link else (spec.name or "-")
        lines.append(f"| `{source}` | `{spec.id}` | {terms} | {spec.note or '-'} |")
    return "\n".join(lines)


def license_sections(summary: dict[str, Any], split_config: SplitConfig) -> list[str]:
    meta = license_metadata(summary, split_config)
    if meta.get("license_name", "").startswith("mixed-"):
        lead = (
            f"The sources of this version come under different terms, so the metadata says `license: other` "
            f"(`{meta['license_name']}`): each photo's terms are its source's, below. The edits, masks and metadata "
            "add no restriction of their own beyond them."
        )
    else:
        lead = (
            "Each photo's terms are its source's, below; the edits, masks and metadata add no restriction of their own "
            "beyond them."
        )
    return ["## Licenses", lead, _license_table(summary, split_config)]


def personal_information_sections() -> list[str]:
    return [
        "## Personal and sensitive information",
        (
            "The photos are real photographs, and some show identifiable people: COCO photos (from Flickr) often do, "
            "and the photos embedded from Python packages include portraits, such as scikit-image's `astronaut` "
            "(astronaut Eileen Collins). The inpainted samples are edits of these real people's photos: an object "
            "next to a person removed or replaced, sometimes an object the person holds or wears. We collected no "
            "consent from the people shown; the photos are used under their sources' terms (see Licenses). The data "
            "holds no names or other identifying metadata of ours beyond what the photos show, and it must not be "
            "used to identify or profile the people in them.\n\n"
            f"To have a photo removed, open a discussion on this dataset's page or an issue at {CODE_URL}, naming the "
            "`source` and `source_image_id` (or a `sample_id`). The photo and all its samples are left out of the "
            "next version. Published version tags never move, so older versions keep it unless the repository's "
            "history is rewritten; say in the request if that is needed, and we will do it for a legal or safety "
            "reason even though it breaks those versions' reproducibility."
        ),
    ]


LIMITATIONS = (
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
)


def bias_sections(summary: dict[str, Any]) -> list[str]:
    return [
        "## Bias, risks and limitations",
        "### Limitations and misuse risk",
        LIMITATIONS,
        "### Bias",
        (
            "- The photos reflect their sources: COCO's Flickr photos over-represent some places, cultures and "
            "everyday scenes, and the embedded photos are a handful of package test images. Only objects of the "
            "sources' annotated categories (COCO's 80; the embedded photos' own annotations) are ever edited.\n"
            "- The mix of backends, mask variants and actions is drawn by the generator's config; the tables under "
            "Counts show this version's mix. A detector's overall score depends on that mix: compare per backend and "
            "per strategy, not only overall.\n"
            "- Prompts are English and come from templates or a model; what a prompt-following backend paints follows "
            "those prompts' (and the backend's training data's) notions of what belongs in a scene.\n"
            "- Pristine samples are the source photos themselves, after the same normalisation as the originals of "
            "the edits, so both classes share their cameras and processing history"
            + (
                "; the file-level shortcut audit above measures what remains"
                if "shortcut_audit" in summary
                else ""
            )
            + ".\n"
            f"- For training, generated images help most mixed with real ones ({SYNTHETIC_MIX_URL})."
        ),
    ]


def how_it_was_made(summary: dict[str, Any]) -> list[str]:
    gen = summary["generator"]
    skipped = gen.get("skipped_by_reason") or {}
    skipped_text = ", ".join(f"{reason}: {n}" for reason, n in skipped.items()) if skipped else "none"
    return [
        "## How it was made",
        (
            f"Generated by `inpaintbench` {gen.get('inpaintbench_version')} (generator config hash "
            f"`{gen.get('config_hash')}`, seed `{gen.get('seed')}`; manifest sha256 `{gen.get('manifest_sha256')}`). "
            "For each source photo with annotated objects, the generator selects an object, plans an edit (removal, or "
            f"a semantically aligned replacement with a context-aware prompt, after SAGI's SAOR: {SAGI_URL}), "
            "builds the mask (object, box or convex hull, optionally dilated) and inpaints it with a backend of the "
            "configured mix; "
            "the untouched photo is kept as a pristine sample. Seeds are derived from each sample's identity, so the "
            "release is reproducible byte for byte from the same config. "
            f"Inputs skipped by the generator: {gen.get('skipped', 0)} ({skipped_text})."
        ),
    ]


def count_sections(summary: dict[str, Any]) -> list[str]:
    counts = summary["counts"]
    splits = list(counts["split"])
    return [
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
        "### By action and mask variant\n\n"
        + _table(counts["action"], splits, "action")
        + "\n\n"
        + _table(counts["mask_variant"], splits, "mask variant"),
    ]


def render_card(summary: dict[str, Any], split_config: SplitConfig) -> str:
    version = summary["version"]
    repo_note = f", https://huggingface.co/datasets/{summary['repo_id']}" if summary.get("repo_id") else ""
    sections = [
        f"---\n{front_matter_yaml(summary, split_config)}\n---",
        f"# {PRETTY_NAME} v{version}",
        (
            "A benchmark of AI-inpainted image forgeries for detection and localization. Every sample is a photo "
            "(pristine) or the same photo with one object removed or replaced by an inpainting backend, with the "
            "exact mask, the original, the prompt, the backend and its parameters, and the per-sample seed. "
            f"This version holds **{summary['num_samples']} samples** from "
            f"**{summary['num_source_photos']} source photos**. "
            f"The method follows SAGI ({SAGI_URL}); code: [{CODE_URL}]({CODE_URL})."
        ),
        *loading_sections(summary),
        *split_sections(summary),
        *field_sections(summary),
        *count_sections(summary),
        *deceptiveness_sections(summary),
        *shortcut_audit_sections(summary),
        *how_it_was_made(summary),
        *license_sections(summary, split_config),
        *personal_information_sections(),
        *bias_sections(summary),
        "## Citation",
        CITATION % {"version": version, "repo_note": repo_note},
    ]
    return "\n\n".join(sections) + "\n"


def write_card(dest: Path, summary: dict[str, Any], split_config: SplitConfig) -> None:
    render_plot(summary, dest / PLOT_PATH)
    (dest / "README.md").write_text(render_card(summary, split_config), encoding="utf-8")
