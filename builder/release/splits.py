"""Split config (YAML) and the split assignment rule.

The rule is a pure function of a sample's *source photo* and of the config, never of row order or of which
other samples exist. That gives the two guarantees a versioned benchmark needs:

- adding samples in a later version never moves an old one (same photo -> same hash -> same split);
- every sample of one photo (its pristine copy and all its edits) lands in the same in-domain split, so a
  detector never trains on the photo it is tested on.

Held-out backends/sources are checked first: their samples go only to their out-of-domain split. A held-out
backend's edits of a photo whose in-domain split is ``train`` are left out of the release (``EXCLUDED``): the
backend would be unseen but the photo, its object and often the very mask would not, and a detector that
memorised them would score an out-of-domain result it did not earn. So no test split shares a photo with train.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

IN_DOMAIN_SPLITS = ("train", "validation", "test")
TRAINING_SPLIT = "train"
EXCLUDED = None  # assign()'s answer for a row the release leaves out (a held-out backend's edit of a train photo)
# Bumped when the assignment rule itself changes (not the config): part of the digest, so releases made under
# different rules never look alike. 2: held-out backends' edits of train photos are excluded. 3: duplicate photos
# (builder.release.photos) share their group's split; a held-out row of a group with a train photo is excluded.
ASSIGNMENT_RULE = 3
# The Hub's split-name rule (datasets.splits): word characters, optionally dotted.
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
_CONFIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class SplitConfigError(ValueError):
    """A split config that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class OutOfDomainSplit:
    split: str
    backends: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseConfigSpec:
    """One config of the release: all rows (``where`` empty) or those whose columns take allowed values
    (and, with ``include_pristine``, every pristine row whatever ``where`` says)."""

    name: str
    description: str = ""
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    include_pristine: bool = False  # set by the release for its "deceiving" config; not read from YAML

    def keeps(self, row: Mapping[str, Any]) -> bool:
        if self.include_pristine and row["label"] in (0, "pristine"):
            return True
        return all(str(row[column]) in allowed for column, allowed in self.where.items())


@dataclass(frozen=True)
class LicenseSpec:
    id: str  # a Hub license id ("cc-by-4.0", "other", ...)
    note: str = ""
    # For id "other" the Hub wants a name and a link to the terms (card metadata license_name/license_link).
    name: str = ""
    link: str = ""


@dataclass(frozen=True)
class SplitConfig:
    salt: str
    fractions: Mapping[str, float]
    out_of_domain: tuple[OutOfDomainSplit, ...]
    configs: tuple[ReleaseConfigSpec, ...]
    licenses: Mapping[str, LicenseSpec]
    source_file: str = "<built-in>"

    @property
    def split_names(self) -> list[str]:
        return list(self.fractions) + [ood.split for ood in self.out_of_domain]

    @property
    def digest(self) -> str:
        """Hash of everything that decides a sample's split (not licenses or descriptions)."""
        key = repr(
            (
                self.salt,
                sorted(self.fractions.items()),
                self.out_of_domain,
                [(c.name, sorted(c.where.items())) for c in self.configs],
            )
        )
        key += f"\x1frule={ASSIGNMENT_RULE}"  # rule 1 (no exclusion) hashed the same key without this suffix
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def assign(self, source: str, source_image_id: str, backend: str) -> str | None:
        """The split of a row of a photo without duplicates, or ``EXCLUDED``."""
        return self.assign_many([source], [source_image_id], [backend])[0]

    def _in_domain(self, source: str, source_image_id: str) -> str:
        digest = hashlib.sha256(f"{self.salt}\x1f{source}\x1f{source_image_id}".encode()).digest()
        unit = int.from_bytes(digest[:8], "big") / 2**64
        cumulative = 0.0
        for split, fraction in self.fractions.items():
            cumulative += fraction
            if unit < cumulative:
                return split
        return list(self.fractions)[-1]  # float rounding at the top end

    def assign_many(
        self, sources: Sequence[str], source_image_ids: Sequence[str], backends: Sequence[str], groups=None
    ) -> list[str | None]:
        """Splits of rows. ``groups`` (``builder.release.photos.PhotoGroups``) makes duplicate photos one unit:
        every photo of a group takes the split its group's key hashes to. Without it, each photo is its own group.

        A held-out row goes to its out-of-domain split, unless its group's split is ``train`` and the group has a
        photo of a source that is not held out: then that photo (or its duplicate) is in train, and the row is
        ``EXCLUDED``. A held-out source's photo without in-domain duplicates is never in train, so never excluded."""
        held_sources = {s for ood in self.out_of_domain for s in ood.sources}
        cache: dict[tuple[str, str], tuple[str, bool]] = {}
        out = []
        for source, image_id, backend in zip(sources, source_image_ids, backends, strict=False):
            key = (source, image_id)
            if key not in cache:
                members = groups.members.get(key, (key,)) if groups is not None else (key,)
                split_key = groups.split_key.get(key, key) if groups is not None else key
                cache[key] = (self._in_domain(*split_key), any(m[0] not in held_sources for m in members))
            in_domain, group_in_train_sources = cache[key]
            held_out = self.held_out_split(source, backend)
            if held_out is None:
                out.append(in_domain)
            elif in_domain == TRAINING_SPLIT and group_in_train_sources:
                out.append(EXCLUDED)
            else:
                out.append(held_out)
        return out

    def held_out_split(self, source: str, backend: str) -> str | None:
        for ood in self.out_of_domain:
            if source in ood.sources:
                return ood.split
        for ood in self.out_of_domain:
            if backend in ood.backends:
                return ood.split
        return None


def _fail(where: str, message: str) -> None:
    raise SplitConfigError(f"{where}: {message}")


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(where, f"{key!r} must be a list of strings, got {value!r}")
    return tuple(value)


def parse_split_config(data: Any, source_file: str = "<built-in>") -> SplitConfig:
    where = str(source_file)
    if not isinstance(data, dict):
        _fail(where, f"expected a mapping at the top level, got {type(data).__name__}")
    unknown = set(data) - {"salt", "fractions", "out_of_domain", "configs", "licenses"}
    if unknown:
        _fail(where, f"unknown keys {sorted(unknown)}")

    salt = data.get("salt")
    if not isinstance(salt, str) or not salt:
        _fail(where, "'salt' must be a non-empty string (it seeds the split hash)")

    fractions = data.get("fractions")
    if not isinstance(fractions, dict) or not fractions:
        _fail(where, "'fractions' must map split names to fractions, e.g. {train: 0.8, validation: 0.1, test: 0.1}")
    for split, fraction in fractions.items():
        if not isinstance(split, str) or not _SPLIT_NAME.match(split):
            _fail(where, f"split name {split!r} is not a valid Hub split name (letters, digits, _ and .)")
        if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction <= 1:
            _fail(where, f"fractions.{split} must be a number in (0, 1], got {fraction!r}")
    if not math.isclose(sum(fractions.values()), 1.0, abs_tol=1e-9):
        _fail(where, f"'fractions' must sum to 1, they sum to {sum(fractions.values())}")

    ood_items = data.get("out_of_domain") or []
    if not isinstance(ood_items, list):
        _fail(where, "'out_of_domain' must be a list of {split, backends, sources}")
    out_of_domain = []
    for i, item in enumerate(ood_items):
        here = f"{where}: out_of_domain[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("split"), str):
            raise SplitConfigError(f"{here}: needs a 'split' name")
        if set(item) - {"split", "backends", "sources"}:
            raise SplitConfigError(f"{here}: unknown keys {sorted(set(item) - {'split', 'backends', 'sources'})}")
        split = item["split"]
        if not _SPLIT_NAME.match(split):
            raise SplitConfigError(f"{here}: split name {split!r} is not a valid Hub split name")
        entry = OutOfDomainSplit(
            split, _str_list(item.get("backends"), here, "backends"), _str_list(item.get("sources"), here, "sources")
        )
        if not entry.backends and not entry.sources:
            raise SplitConfigError(f"{here}: holds out nothing (give 'backends' and/or 'sources')")
        if "none" in entry.backends:
            raise SplitConfigError(f"{here}: 'none' is the pristine backend; hold out a source to hold out photos")
        out_of_domain.append(entry)
    names = list(fractions) + [o.split for o in out_of_domain]
    if len(set(names)) != len(names):
        _fail(where, f"split names repeat: {names}")

    config_items = data.get("configs") or [{"name": "default"}]
    if not isinstance(config_items, list):
        _fail(where, "'configs' must be a list of {name, description, where}")
    configs = []
    for i, item in enumerate(config_items):
        here = f"{where}: configs[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not _CONFIG_NAME.match(item["name"]):
            raise SplitConfigError(f"{here}: needs a 'name' of letters, digits, '_', '-', '.'")
        filters = item.get("where") or {}
        if not isinstance(filters, dict):
            raise SplitConfigError(f"{here}: 'where' must map column names to lists of allowed values")
        configs.append(
            ReleaseConfigSpec(
                item["name"],
                str(item.get("description", "")),
                {str(col): _str_list(vals, here, f"where.{col}") for col, vals in filters.items()},
            )
        )
    config_names = [c.name for c in configs]
    if len(set(config_names)) != len(config_names):
        _fail(where, f"config names repeat: {config_names}")
    if "default" not in config_names:
        _fail(where, "a config named 'default' (all samples) is required")

    licenses_raw = data.get("licenses") or {}
    if not isinstance(licenses_raw, dict):
        _fail(where, "'licenses' must map source names to {id, note}")
    licenses = {}
    for source, spec in licenses_raw.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("id"), str):
            _fail(where, f"licenses.{source} must be {{id: <hub license id>, note: <text>, name: <text>, link: <url>}}")
        unknown_keys = set(spec) - {"id", "note", "name", "link"}
        if unknown_keys:
            _fail(where, f"licenses.{source}: unknown keys {sorted(unknown_keys)}")
        name, link = str(spec.get("name", "")).strip(), str(spec.get("link", "")).strip()
        if spec["id"] == "other" and not (name and link):
            _fail(
                where,
                f"licenses.{source}: id 'other' needs a 'name' and a 'link' to the terms (the Hub's "
                "license_name/license_link)",
            )
        licenses[str(source)] = LicenseSpec(spec["id"], str(spec.get("note", "")).strip(), name, link)

    return SplitConfig(salt, dict(fractions), tuple(out_of_domain), tuple(configs), licenses, where)


def load_split_config(path: str | Path) -> SplitConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SplitConfigError(f"{path}: split config not found") from None
    except yaml.YAMLError as exc:
        raise SplitConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_split_config(data, str(path))


def default_split_config_path() -> Path:
    """The split config shipped inside the package (so a wheel install finds it too): default_splits.yaml."""
    return Path(__file__).resolve().parent / "default_splits.yaml"
