"""Semantic versions of a release, enforced against what is already published.

A paper cites "InpaintBench v1.2 test"; that must mean one thing. So, comparing a new release with the latest
published one (its ``release.json`` and sample index, ``builder.release.index``):

- **never**, in any version: an id that names other pixels than it did in any published version;
- **major** (X+1.0.0): a column removed or retyped, a config or a split removed, a sample removed or moved to
  another split or out of a config, any change of an evaluation split's members (every split but ``train``),
  or a change of the split rule (its digest: later additions would be split differently);
- **minor** (X.Y+1.0): samples added to ``train``, columns, configs or splits added;
- **patch** (X.Y.Z+1): nothing a loader sees changed (card text, metadata).

Versions are consecutive: the accepted version is the next one at the level the change needs, or a higher level.
Every refusal says why (the first few reasons of each kind) and which version would be accepted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
LEVELS = ("patch", "minor", "major")
TRAINING_SPLIT = "train"
_SHOWN = 5  # reasons of one kind shown in a message; the count says how many there are


class VersionError(ValueError):
    """The version number does not match what changed, or an id would name other pixels."""


def parse_version(version: str) -> tuple[int, int, int]:
    match = SEMVER.match(version)
    if not match:
        raise VersionError(f"version {version!r} is not MAJOR.MINOR.PATCH (e.g. 1.0.0)")
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def bump(version: tuple[int, int, int], level: str) -> tuple[int, int, int]:
    major, minor, patch = version
    return {"major": (major + 1, 0, 0), "minor": (major, minor + 1, 0), "patch": (major, minor, patch + 1)}[level]


def text(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


@dataclass
class ReleaseFacts:
    """What a loader sees of one release: columns, configs and their splits, and the sample index."""

    version: str
    features: dict[str, Any] | None  # datasets.Features.to_dict(); None for releases that did not record it
    splits: dict[str, list[str]]  # config -> split names
    split_digest: str | None
    index: pa.Table | None  # None for releases published before the index existed

    @classmethod
    def from_summary(cls, summary: dict[str, Any], index: pa.Table | None) -> ReleaseFacts:
        return cls(
            str(summary.get("version")),
            summary.get("features"),
            {name: list(config.get("splits", {})) for name, config in summary.get("configs", {}).items()},
            summary.get("split_config", {}).get("digest"),
            index,
        )


@dataclass
class Changes:
    never: list[str] = field(default_factory=list)
    major: list[str] = field(default_factory=list)
    minor: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        return "major" if self.major else "minor" if self.minor else "patch"


def _listed(reasons: list[str]) -> str:
    shown = "; ".join(reasons[:_SHOWN])
    return shown + (f"; and {len(reasons) - _SHOWN} more" if len(reasons) > _SHOWN else "")


def _index_rows(table: pa.Table) -> dict[str, dict[str, Any]]:
    columns = table.to_pydict()
    return {sid: {name: columns[name][i] for name in columns} for i, sid in enumerate(columns["sample_id"])}


def content_conflicts(new_index: pa.Table, published: dict[str, pa.Table]) -> list[str]:
    """Ids of the new release that name other pixels in a published version (``{tag: index}``)."""
    new = _index_rows(new_index)
    found = []
    for tag, table in sorted(published.items()):
        for sid, old in _index_rows(table).items():
            row = new.get(sid)
            if row is None:
                continue
            for column in ("image_pixels_sha256", "mask_pixels_sha256"):
                if row[column] != old[column]:
                    found.append(f"{sid} has other {column.split('_')[0]} pixels than in {tag}")
                    break
    return found


def compare(previous: ReleaseFacts, new: ReleaseFacts, published_indexes: dict[str, pa.Table]) -> Changes:
    changes = Changes()
    if new.index is not None:
        changes.never = content_conflicts(new.index, published_indexes)

    if previous.features is not None and new.features is not None:
        for name, spec in previous.features.items():
            if name not in new.features:
                changes.major.append(f"column {name!r} removed")
            elif new.features[name] != spec:
                changes.major.append(
                    f"column {name!r} retyped ({json.dumps(spec)} -> {json.dumps(new.features[name])})"
                )
        changes.minor += [f"column {name!r} added" for name in new.features if name not in previous.features]

    for config, splits in previous.splits.items():
        if config not in new.splits:
            changes.major.append(f"config {config!r} removed")
            continue
        changes.major += [
            f"split {split!r} of config {config!r} removed" for split in splits if split not in new.splits[config]
        ]
        changes.minor += [
            f"split {split!r} added to config {config!r}" for split in new.splits[config] if split not in splits
        ]
    changes.minor += [f"config {config!r} added" for config in new.splits if config not in previous.splits]

    if previous.split_digest and new.split_digest and previous.split_digest != new.split_digest:
        changes.major.append(f"the split rule changed (digest {previous.split_digest} -> {new.split_digest})")

    if previous.index is not None and new.index is not None:
        before, after = _index_rows(previous.index), _index_rows(new.index)
        for sid, old in before.items():
            row = after.get(sid)
            if row is None:
                changes.major.append(f"sample {sid} removed (was in {old['split']})")
            elif row["split"] != old["split"]:
                changes.major.append(f"sample {sid} moved from {old['split']} to {row['split']}")
            else:
                left = sorted(set(old["configs"]) - set(row["configs"]))
                if left:
                    changes.major.append(f"sample {sid} left config(s) {left}")
        added = [sid for sid in after if sid not in before]
        into_evaluation = [
            f"sample {sid} added to {after[sid]['split']}" for sid in added if after[sid]["split"] != TRAINING_SPLIT
        ]
        changes.major += [
            f"{reason} (an evaluation split keeps its members within a major version)" for reason in into_evaluation
        ]
        if len(added) > len(into_evaluation):
            changes.minor.append(f"{len(added) - len(into_evaluation)} samples added to {TRAINING_SPLIT}")
    return changes


def check_version(
    previous: ReleaseFacts, new: ReleaseFacts, published_indexes: dict[str, pa.Table], repo: str
) -> Changes:
    """Raise ``VersionError`` unless ``new.version`` is what the changes since ``previous`` allow."""
    changes = compare(previous, new, published_indexes)
    if changes.never:
        raise VersionError(
            f"{repo}: {len(changes.never)} sample id(s) would name other pixels than in a published version, which no "
            f"version number allows (a sample id names one content forever): {_listed(changes.never)}"
        )
    old, wanted = parse_version(previous.version), parse_version(new.version)
    if wanted <= old:
        raise VersionError(
            f"{repo}: version {new.version} is not after the latest release v{previous.version}; the next "
            f"version is {text(bump(old, changes.level))}"
        )
    needed = changes.level
    accepted = [text(bump(old, level)) for level in LEVELS[LEVELS.index(needed):]]
    if text(wanted) not in accepted:
        why = {"major": changes.major, "minor": changes.minor}.get(needed, [])
        because = f" because {_listed(why)}" if why else " (nothing a loader sees changed)"
        wrong_level = any(wanted == bump(old, level) for level in LEVELS)
        raise VersionError(
            f"{repo}: v{new.version} is not accepted after v{previous.version}: the changes need a {needed} version"
            f"{because}. Accepted: {' or '.join(accepted)}"
            + ("" if wrong_level else " (versions are consecutive)")
        )
    return changes
