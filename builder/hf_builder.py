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

The prepared Arrow cache is keyed by what the release IS, not by what it was called: ``datasets`` derives the
cache folder from the config's fields, and ``revision=None`` or ``"main"`` names a different commit after every
publish, so a key of (release, revision) served the first commit's rows forever. ``__init__`` therefore resolves,
before ``datasets`` computes the cache folder, a Hub revision to its commit sha (``InpaintBenchConfig.commit``;
under ``HF_HUB_OFFLINE=1`` from the local HF cache's refs, with a clear error when the revision was never cached)
and a local folder to the sha256 of its ``release.json`` (``release_json_sha256``: a folder rebuilt in the same
place is another release). Every later download reads that commit, so a publish in between cannot mix versions.

Features: ``FEATURES``, plus ``ASSESSMENT_FEATURES`` when the release's ``release.json`` records deceptiveness
assessments (then the ``deceiving`` config exists too), the same rule the release writer follows.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import yaml

from inpaintbench.digests import sha256_file
from inpaintbench.folders import RELEASE_SUMMARY_NAME
from inpaintbench.schema import release_features

from .release.assessments import DECEIVING_CONFIG, DECEIVING_CONFIG_DESCRIPTION

# The release configs, as builder/release/default_splits.yaml defines them (a test keeps the two equal).
RELEASE_CONFIGS = {
    "default": "every sample",
    "paste_back": "pasted-back edits (original pixels outside the mask) and pristine photos",
}
# Added by the release writer when the generator output carries deceptiveness assessments.
ASSESSMENT_CONFIGS = {DECEIVING_CONFIG: DECEIVING_CONFIG_DESCRIPTION}
_BATCH_ROWS = 64  # rows hold three PNGs each: small batches keep memory flat
_PINNING_FILES = ["README.md", RELEASE_SUMMARY_NAME]  # what every config reads: fetched while resolving


@dataclass
class InpaintBenchConfig(datasets.BuilderConfig):
    release: str | None = None  # a release folder, or a Hub dataset repo id "ORG/NAME"
    revision: str | None = None  # Hub revision: a version tag "vX.Y.Z", a branch or a commit
    # Set by InpaintBench.__init__, never by callers: being config fields, they are part of the cache key.
    commit: str | None = None  # the commit sha ``revision`` resolved to (Hub releases)
    release_json_sha256: str | None = None  # sha256 of the folder's release.json (local releases)


_RESOLVED_FIELDS = ("commit", "release_json_sha256")
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")


class ReleaseNotResolvable(ValueError):
    """The release cannot be pinned to one exact content (commit or release.json); the message says why."""


def resolve_release(release: str, revision: str | None) -> dict[str, str]:
    """The cache key fields of a release: {"commit": sha} for a Hub repo, {"release_json_sha256": hex} for a
    folder. Network only for a Hub repo (one revision lookup plus the card and release.json, needed anyway)."""
    local = Path(release).expanduser()
    if local.is_dir():
        if revision is not None:
            raise ValueError(f"{local}: a local release folder has no revisions; drop revision={revision!r}")
        summary = local / RELEASE_SUMMARY_NAME
        if not summary.is_file():
            raise ReleaseNotResolvable(
                f"{summary}: missing; a release folder written by inpaintbench publish has one, and its sha256 keys "
                "the builder's cache (a rebuilt folder must not be served from the old cache)"
            )
        return {"release_json_sha256": sha256_file(summary)}
    if release.count("/") != 1:
        raise ValueError(f"{release!r} is neither a folder nor a Hub repo id ORG/NAME")
    return {"commit": resolve_commit(release, revision)}


def resolve_commit(repo_id: str, revision: str | None) -> str:
    """The commit sha ``revision`` (None = the default branch) of a Hub dataset repo points to now.

    ``snapshot_download`` asks the Hub, or under ``HF_HUB_OFFLINE=1`` (or with the Hub unreachable) reads the
    local HF cache's refs; either way it returns the HF cache's ``snapshots/<commit>`` folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=_PINNING_FILES)
    except LocalEntryNotFoundError as exc:
        from huggingface_hub import constants

        why = "HF_HUB_OFFLINE=1" if constants.HF_HUB_OFFLINE else "the Hub could not be reached"
        raise ReleaseNotResolvable(
            f"{repo_id}@{revision or 'main'}: {why} and this revision is not in the local HF cache "
            f"({constants.HF_HUB_CACHE}), so it cannot be pinned to a commit; load it once online, or pass a cached "
            "revision"
        ) from exc
    commit = Path(folder).name
    if not _COMMIT_SHA.fullmatch(commit):
        raise ReleaseNotResolvable(
            f"{folder}: expected the HF cache's snapshots/<commit sha> folder for {repo_id}@{revision}"
        )
    return commit


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
        InpaintBenchConfig(name=name, description=desc)
        for name, desc in {**RELEASE_CONFIGS, **ASSESSMENT_CONFIGS}.items()
    ]
    DEFAULT_CONFIG_NAME = "default"

    def __init__(self, *args, release: str | None = None, revision: str | None = None, **kwargs):
        # Resolved here, before super().__init__ computes config_id and the cache folder from the config's fields.
        given = sorted(set(_RESOLVED_FIELDS) & set(kwargs))
        if given:
            raise ValueError(f"InpaintBench: {given} are derived from release= and revision=; do not pass them")
        if release:
            kwargs.update(release=release, revision=revision, **resolve_release(release, revision))
        elif revision is not None:
            kwargs["revision"] = revision  # _release_root names the missing release when data is requested
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="AI-inpainted image forgeries (and their pristine photos) for detection and localization.",
            features=self._release_features(),
            citation="SAGI: Semantically Aligned and Uncertainty Guided AI Image Inpainting (arXiv 2502.06593)",
        )

    def _release_features(self) -> datasets.Features:
        """FEATURES (+ ASSESSMENT_FEATURES if the release's release.json records assessments). Before anything is
        downloaded (``_info`` runs in ``__init__``), so a Hub release's release.json alone is fetched here."""
        release, commit = self.config.release, self.config.commit
        if not release:
            return release_features(False)
        if commit is None:
            summary_path = Path(release).expanduser() / RELEASE_SUMMARY_NAME
        else:
            from huggingface_hub import hf_hub_download
            from huggingface_hub.errors import EntryNotFoundError

            try:
                summary_path = Path(
                    hf_hub_download(release, RELEASE_SUMMARY_NAME, repo_type="dataset", revision=commit)
                )
            except EntryNotFoundError:
                return release_features(False)  # not built by inpaintbench publish: the plain schema
        if not summary_path.is_file():
            return release_features(False)
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{summary_path}: not valid JSON ({exc})") from None
        return release_features("assessment" in summary)

    def _release_root(self) -> Path:
        release, commit = self.config.release, self.config.commit
        if not release:
            raise ValueError("InpaintBench: pass release=<release folder or ORG/NAME> (and revision= for the Hub)")
        if commit is None and self.config.release_json_sha256 is None:
            raise ReleaseNotResolvable(
                f"InpaintBench: release {release!r} was never resolved to a commit or release.json; create the builder "
                "as InpaintBench(release=..., revision=...) so that its cache is keyed by the exact release"
            )
        if commit is None:
            local = Path(release).expanduser()
            self._check_unchanged(local)
            return local
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(
                release,
                repo_type="dataset",
                revision=commit,  # never the branch or tag: main may have moved since __init__
                allow_patterns=[*_PINNING_FILES, f"data/{self.config.name}/*"],
            )
        )

    def _check_unchanged(self, local: Path) -> None:
        """A folder rebuilt between __init__ and the download would be cached under the old release's key."""
        summary = local / RELEASE_SUMMARY_NAME
        if not summary.is_file() or sha256_file(summary) != self.config.release_json_sha256:
            raise ReleaseNotResolvable(f"{summary}: changed since this builder was created; create a new builder")

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
