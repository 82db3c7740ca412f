"""InpaintBench as a ``datasets.GeneratorBasedBuilder`` (the old "loading script"), for Python users.

Dataset scripts are gone from ``datasets`` >= 4: on the Hub, ``load_dataset(repo, revision=...)`` reads the
card's YAML ``configs`` (Parquet ``data_files`` per split) and never runs this file. This builder mirrors that
path for code that wants a builder class (``download_and_prepare`` / ``as_dataset`` / ``as_streaming_dataset``):
same configs, same ``FEATURES``, same splits, same rows in the same order, because it reads the split -> files
mapping from the very same card YAML and the files in the same (sorted) order.

    builder = InpaintBench(config_name="default", release="ORG/NAME", revision="v1.0.0")  # or a local folder
    builder.download_and_prepare()
    test = builder.as_dataset(split="test")

A Hub release is fetched with ``huggingface_hub.snapshot_download`` at the given revision (HF cache, and
``HF_HUB_OFFLINE`` respected); only the card, ``release.json`` and the chosen config's Parquet files are downloaded.

Features: ``FEATURES``, plus ``ASSESSMENT_FEATURES`` when the release's ``release.json`` records deceptiveness
assessments (then the ``deceiving`` config exists too), the same rule the release writer follows.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import json

import datasets
import pyarrow.parquet as pq
import yaml

from .release.assessments import DECEIVING_CONFIG, DECEIVING_CONFIG_DESCRIPTION, release_features

# The release configs, as builder/release/default_splits.yaml defines them (a test keeps the two equal).
RELEASE_CONFIGS = {
    "default": "every sample",
    "paste_back": "pasted-back edits (original pixels outside the mask) and pristine photos",
}
# Added by the release writer when the generator output carries deceptiveness assessments.
ASSESSMENT_CONFIGS = {DECEIVING_CONFIG: DECEIVING_CONFIG_DESCRIPTION}
_BATCH_ROWS = 64  # rows hold three PNGs each: small batches keep memory flat


@dataclass
class InpaintBenchConfig(datasets.BuilderConfig):
    release: str | None = None  # a release folder, or a Hub dataset repo id "ORG/NAME"
    revision: str | None = None  # Hub revision: a version tag "vX.Y.Z", a branch or a commit


def card_data_files(readme: Path, config_name: str) -> dict[str, list[str]]:
    """{split: [path patterns]} of ``config_name`` in a card's YAML front matter."""
    text = readme.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise ValueError(f"{readme}: no YAML front matter (not an InpaintBench release card)")
    try:
        meta = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{readme}: front matter is not valid YAML ({exc})") from None
    configs = {c.get("config_name"): c for c in meta.get("configs", []) if isinstance(c, dict)}
    if config_name not in configs:
        raise ValueError(f"{readme}: no config {config_name!r}; the card has {sorted(configs)}")
    out: dict[str, list[str]] = {}
    for item in configs[config_name].get("data_files", []):
        paths = item["path"] if isinstance(item["path"], list) else [item["path"]]
        out.setdefault(item["split"], []).extend(paths)
    return out


def resolve_files(root: Path, patterns: list[str]) -> list[Path]:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    matched = sorted({f for f in files for pattern in patterns if fnmatch.fnmatchcase(f, pattern)})
    if not matched:
        raise FileNotFoundError(f"{root}: no file matches {patterns}")
    return [root / f for f in matched]


class InpaintBench(datasets.GeneratorBasedBuilder):
    """InpaintBench: AI-inpainted image forgeries with masks, originals and provenance."""

    BUILDER_CONFIG_CLASS = InpaintBenchConfig
    BUILDER_CONFIGS = [
        InpaintBenchConfig(name=name, description=desc) for name, desc in {**RELEASE_CONFIGS, **ASSESSMENT_CONFIGS}.items()
    ]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="AI-inpainted image forgeries (and their pristine photos) for detection and localization.",
            features=self._release_features(),
            citation="SAGI: Semantically Aligned and Uncertainty Guided AI Image Inpainting (arXiv 2502.06593)",
        )

    def _release_features(self) -> datasets.Features:
        """FEATURES (+ ASSESSMENT_FEATURES if the release's release.json records assessments). Before anything is
        downloaded (``_info`` runs in ``__init__``), so a Hub release's release.json alone is fetched here."""
        release, revision = self.config.release, self.config.revision
        if not release:
            return release_features(False)
        local = Path(release).expanduser()
        if local.is_dir():
            summary_path = local / "release.json"
        elif release.count("/") == 1:
            from huggingface_hub import hf_hub_download
            from huggingface_hub.errors import EntryNotFoundError

            try:
                summary_path = Path(hf_hub_download(release, "release.json", repo_type="dataset", revision=revision))
            except EntryNotFoundError:
                return release_features(False)  # not built by inpaintbench publish: the plain schema
        else:
            return release_features(False)  # _release_root names the problem when data is requested
        if not summary_path.is_file():
            return release_features(False)
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{summary_path}: not valid JSON ({exc})") from None
        return release_features("assessment" in summary)

    def _release_root(self) -> Path:
        release, revision = self.config.release, self.config.revision
        if not release:
            raise ValueError("InpaintBench: pass release=<release folder or ORG/NAME> (and revision= for the Hub)")
        local = Path(release).expanduser()
        if local.is_dir():
            if revision is not None:
                raise ValueError(f"{local}: a local release folder has no revisions; drop revision={revision!r}")
            return local
        if release.count("/") != 1:
            raise ValueError(f"{release!r} is neither a folder nor a Hub repo id ORG/NAME")
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(
                release,
                repo_type="dataset",
                revision=revision,
                allow_patterns=["README.md", "release.json", f"data/{self.config.name}/*"],
            )
        )

    def _split_generators(self, dl_manager):
        root = self._release_root()
        data_files = card_data_files(root / "README.md", self.config.name)
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"files": [str(p) for p in resolve_files(root, patterns)]})
            for split, patterns in data_files.items()
        ]

    def _generate_examples(self, files):
        for path in files:
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=list(self.info.features)):
                for row in batch.to_pylist():
                    yield row["sample_id"], row
