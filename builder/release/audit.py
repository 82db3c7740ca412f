"""Shortcut audit: can a classifier tell pristine from inpainted samples by their FILES alone, never their pixels?

A benchmark whose pristine and inpainted images differ in how they are stored (an ICC profile only pristine PNGs
carry, another compression level, pristine-only sizes) teaches detectors that difference instead of the edit,
and scores them for it. This module measures that leak: from the ``image`` column's bytes alone it derives
file-level features (``FEATURE_NAMES``: format, mode, PNG chunk list, size and its residues, bytes per pixel,
the encoder parameters visible in the file), fits a classifier for the label and reports its out-of-fold ROC AUC
per config. 0.5 means the files say nothing about the label; 1.0 means a detector can score perfectly without
looking at one pixel.

Classifier: gradient-boosted trees of depth 2 (``GradientBoostingClassifier``), not a logistic regression.
Shortcuts are threshold and equality rules on single features (a chunk present, a residue equal to 0, one zlib
level), often non-monotone (pristine-only odd sizes); a tree finds each with one split and needs no scaling of
flags next to byte counts, where a linear model on standardised features would miss a non-monotone rule. Depth
2 lets it combine two features (e.g. size with bytes per pixel) while staying too small to memorise a few
hundred samples.

Cross-validation is grouped by source photo (``source``, ``source_image_id``) and stratified by label
(``StratifiedGroupKFold``): every sample of a photo (its pristine and its edits share a size) is on one side
of each split, so a model cannot score by recognising a photo it saw. The AUC is over the pooled out-of-fold
scores. A config needs at least 2 photos of each class for that; with fewer it is reported as not auditable
(``"auc": None`` and a ``"reason"``), and it fails nothing: a leak there cannot be measured.

``DEFAULT_AUC_BOUND`` = 0.65. What it catches: a file property that only one class ever has, carried by a share
f of that class, gives an AUC of 0.5 + f/2 on its own; 0.65 catches it from f = 30%. That is the leak this
audit was written for: in a build of the embedded photos with more edits per photo (83 samples), 5 of the 13
pristine PNGs carried the camera's ICC profile (sRGB or Adobe RGB tags), no inpainted one did: AUC 0.685
(0.556 once every PNG came from the one encoder). Noise: with label-independent features the out-of-fold AUC
scatters around 0.5 (slightly below: an overfitted model ranks held-out photos worse than chance). Measured
with labels permuted 60 times over 300 synthetic samples (100 pristine, 200 inpainted; files that vary by photo,
not by label): sd 0.047, 99th percentile 0.588, maximum 0.607, so a release of a few hundred samples is not
refused for noise. The Mann-Whitney null sd sqrt((n0 + n1 + 1) / (12 n0 n1)) (n0 pristine, n1 inpainted) gives
the scale for other sizes (the measured sd is a little larger: samples of one photo are alike): 0.035 there,
0.088 for the 13 + 70 build above (measured 0.085, 95th percentile 0.622), 0.135 for the 6 + 23 of the default
embedded build, where the bound is within noise and the AUC is a hint, not a verdict: a config fails only when
its AUC is above the bound and ``MIN_Z`` null sds above chance (both recorded per config). Shortcuts carried by
every sample of a class (another format, compression level, size) score 1.0, a profile on 3 in 8 pristine
PNGs 0.70 (tests/test_release_audit.py).

Storage versus content. Compressed sizes (``SIZE_FEATURES``: bytes per pixel, IDAT lengths) mix two things: how
a file was stored, and how well its pixels compress. The second is the edit itself (a smooth classical fill in a
noisy photo compresses better), visible to any detector through the pixels alone; refusing it refuses the edit,
and on small builds it is mostly noise (a 24-sample build of 8 synthetic photos scored 0.53-0.74 over four
seeds under PIL's zlib 6 and under our encoder alike). So the audit first asks of every PNG whether it is the
canonical encoding of its own pixels: ``png_encoder.encode(decoded pixels) == bytes`` (feature
``noncanonical_encoding``). A canonical file's bytes are a function of its pixels, so its sizes carry nothing a
pixel detector does not see: they are left out (``NOT_APPLICABLE``) of the verdict's features. A non-canonical
file keeps them, and the flag itself is a feature: a label encoded another way, even with the same header bits
and chunk list (another filter, another deflate setting), is told apart by the flag alone. Pixel
compressibility is still measured and reported, under ``"pixel_compressibility"`` (the same cross-validation on
``SIZE_FEATURES`` of every file), and fails nothing: it is a property of the pixels, for the card to state.

Reading: only the columns image (its bytes), label, source and source_image_id, in record batches, so memory
stays bounded by a batch whatever the file size. Errors name the file (and row) and what is wrong.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from inpaintbench.folders import RELEASE_SUMMARY_NAME

DEFAULT_AUC_BOUND = 0.65
# A config fails only when its AUC is above the bound AND at least this many chance standard deviations (the
# Mann-Whitney null sd below) above 0.5. The bound alone would refuse noise on small releases: the embedded
# default (21 released samples) scores 0.68 at z 1.2; refusing it would teach people to pass --allow-shortcut by
# habit. 2 keeps the leak this audit was written for (the ICC build above: 0.685 over 83 samples, z 2.1) refused.
MIN_Z = 2.0
DEFAULT_FOLDS = 5
TOP_FEATURES = 5
READ_COLUMNS = ("image", "label", "source", "source_image_id")
CLASSIFIER = (
    "GradientBoostingClassifier(max_depth=2, n_estimators=100, learning_rate=0.1) on file-level features of the "
    "image column; out-of-fold ROC AUC, StratifiedGroupKFold grouped by (source, source_image_id)"
)

# PNG ancillary chunks with a feature of their own; any other ancillary chunk counts in has_other_ancillary.
_NAMED_CHUNKS = {
    "iCCP": "has_icc", "eXIf": "has_exif", "tEXt": "has_text", "zTXt": "has_text", "iTXt": "has_text",
    "gAMA": "has_gamma", "cHRM": "has_chrm", "sRGB": "has_srgb_chunk", "pHYs": "has_phys", "tIME": "has_time",
}
_CRITICAL_CHUNKS = {"IHDR", "PLTE", "IDAT", "IEND"}
_MODES = ("RGB", "L", "RGBA", "P")
_PNG_MODES = {(8, 2): "RGB", (8, 0): "L", (8, 6): "RGBA"}  # (bit depth, colour type); colour type 3 is P
FEATURE_NAMES = (
    "format_png", "format_jpeg", "format_other",
    *(f"mode_{m.lower()}" for m in _MODES), "mode_other",
    "bit_depth", "color_type", "interlace",
    "has_icc", "has_exif", "has_text", "has_gamma", "has_chrm", "has_srgb_chunk", "has_phys", "has_time",
    "has_other_ancillary", "num_ancillary_chunks", "num_chunk_types",
    "width", "height",
    "width_mod8", "width_mod16", "width_mod64", "height_mod8", "height_mod16", "height_mod64",
    "bytes_per_pixel",
    "zlib_level_bits", "zlib_window_bits", "num_idat", "idat_first_bytes", "idat_last_bytes", "idat_max_bytes",
    "noncanonical_encoding",
)
NOT_APPLICABLE = -1.0  # a PNG-only feature of a file that is not a PNG; a size feature of a canonical PNG
# Functions of the pixels once a file is the canonical encoding of them (see "Storage versus content").
SIZE_FEATURES = ("bytes_per_pixel", "idat_first_bytes", "idat_last_bytes", "idat_max_bytes")
_SIZE_COLUMNS = [FEATURE_NAMES.index(name) for name in SIZE_FEATURES]


class AuditInputError(ValueError):
    """What the audit was given cannot be read; the message names the file and what is wrong."""


class ShortcutAuditError(Exception):
    """A config's files predict the label beyond the bound, and no override reason was given."""

    def __init__(self, bound: float, failing: dict[str, dict[str, Any]]) -> None:
        self.bound = bound
        self.failing = failing
        parts = [
            f"config {name!r}: AUC {entry['auc']:.3f} > bound {bound:.2f} over {entry['n']} samples "
            f"(most predictive: {', '.join(entry['top_features']) or 'none'})"
            for name, entry in failing.items()
        ]
        super().__init__(
            "file-level shortcut: a classifier tells pristine from inpainted samples by their image files alone; "
            + "; ".join(parts)
            + ". Make both labels' files alike (builder/shards.py encode_png) or give an override reason."
        )


def is_canonical_png(data: bytes) -> bool:
    """Whether ``data`` is exactly what the one sample encoder (``builder.png_encoder``) writes for the pixels it
    decodes to. False for any file it cannot decode as 8-bit L or RGB."""
    from PIL import Image

    from .. import png_encoder

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG" or image.mode not in ("L", "RGB"):
                return False
            pixels = np.asarray(image)
    except Exception:  # noqa: BLE001 - any undecodable file is simply not canonical; file_features names it
        return False
    return png_encoder.encode(pixels) == data


def file_features(data: bytes, canonical: bool | None = None) -> list[float]:
    """``FEATURE_NAMES`` of one image file's bytes: headers and chunk list, plus whether the file is the canonical
    encoding of its pixels (``canonical``; computed by decoding when not given). A canonical file's
    ``SIZE_FEATURES`` are ``NOT_APPLICABLE``: they are functions of its pixels.

    ValueError when the bytes are neither a well-formed PNG nor an image PIL can read the header of."""
    return _mask_sizes(raw_file_features(data), is_canonical_png(data) if canonical is None else canonical)


def _mask_sizes(values: list[float], canonical: bool) -> list[float]:
    values = list(values)
    values[FEATURE_NAMES.index("noncanonical_encoding")] = 0.0 if canonical else 1.0
    if canonical:
        for column in _SIZE_COLUMNS:
            values[column] = NOT_APPLICABLE
    return values


def raw_file_features(data: bytes) -> list[float]:
    """``FEATURE_NAMES`` of one image file's bytes from its headers and chunk list only (no pixel decoded; sizes
    kept whatever the encoding; ``noncanonical_encoding`` left 0)."""
    from ..shards import PNG_SIGNATURE  # here, not at the top: the CLI's parser imports this module (no datasets)

    values = dict.fromkeys(FEATURE_NAMES, 0.0)
    if data.startswith(PNG_SIGNATURE):
        width, height, mode = _png_features(data, values)
    else:
        width, height, mode = _other_format_features(data, values)
    values[f"mode_{mode.lower()}" if mode in _MODES else "mode_other"] = 1.0
    values.update(width=width, height=height, bytes_per_pixel=len(data) / max(width * height, 1))
    for side, size in (("width", width), ("height", height)):
        for modulus in (8, 16, 64):
            values[f"{side}_mod{modulus}"] = size % modulus
    return [float(values[name]) for name in FEATURE_NAMES]


def _png_features(data: bytes, values: dict[str, float]) -> tuple[int, int, str]:
    from ..shards import png_chunks  # the encoder's own reading of a PNG's chunk list

    chunks = png_chunks(data)
    if not chunks or chunks[0].type != "IHDR" or chunks[0].length != 13:
        raise ValueError("PNG without a 13-byte IHDR first")
    header = data[chunks[0].offset : chunks[0].offset + 13]
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    bit_depth, color_type, interlace = header[8], header[9], header[12]
    values.update(format_png=1.0, bit_depth=bit_depth, color_type=color_type, interlace=interlace)
    ancillary = [c.type for c in chunks if c.type not in _CRITICAL_CHUNKS]
    for kind in ancillary:
        values[_NAMED_CHUNKS.get(kind, "has_other_ancillary")] = 1.0
    values.update(num_ancillary_chunks=len(ancillary), num_chunk_types=len({c.type for c in chunks}))
    idats = [c for c in chunks if c.type == "IDAT"]
    if idats and idats[0].length >= 2:
        # zlib stream header (RFC 1950): CINFO = window size bits, FLEVEL = the compression level class used.
        cmf, flags = data[idats[0].offset], data[idats[0].offset + 1]
        values.update(zlib_window_bits=(cmf >> 4) + 8, zlib_level_bits=flags >> 6)
    sizes = [c.length for c in idats] or [0]
    values.update(num_idat=len(idats), idat_first_bytes=sizes[0], idat_last_bytes=sizes[-1], idat_max_bytes=max(sizes))
    mode = "P" if color_type == 3 else _PNG_MODES.get((bit_depth, color_type), "other")
    return width, height, mode


def _other_format_features(data: bytes, values: dict[str, float]) -> tuple[int, int, str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:  # header only: pixels are decoded on load(), never called
            width, height, mode, kind, info = image.width, image.height, image.mode, image.format, dict(image.info)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"not a PNG and not an image PIL can read ({error})") from None
    values["format_jpeg" if kind == "JPEG" else "format_other"] = 1.0
    for name in ("bit_depth", "color_type", "interlace", "zlib_level_bits", "zlib_window_bits", "num_idat",
                 "idat_first_bytes", "idat_last_bytes", "idat_max_bytes"):
        values[name] = NOT_APPLICABLE
    values.update(has_icc=float(bool(info.get("icc_profile"))), has_exif=float(bool(info.get("exif"))),
                  has_text=float(bool(info.get("comment"))))
    return width, height, mode


def read_audit_columns(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(raw features [n x len(FEATURE_NAMES)] (``raw_file_features``), labels, photo keys, canonical flags) of one
    Parquet file of FEATURES rows."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise AuditInputError(f"{path}: file not found")
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise AuditInputError(f"{path}: not a readable Parquet file ({error})") from None
    missing = [c for c in READ_COLUMNS if c not in names]
    if missing:
        raise AuditInputError(f"{path}: missing column(s) {missing}; the audit reads {list(READ_COLUMNS)}")
    features, labels, photos, canonical, row = [], [], [], [], 0
    batches = parquet.iter_batches(batch_size=256, columns=list(READ_COLUMNS))
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except Exception as error:  # noqa: BLE001 - a damaged page: pyarrow raises several types
            raise AuditInputError(f"{path}: cannot read the audited columns ({error})") from None
        images = batch.column("image")
        if not hasattr(images, "field"):
            raise AuditInputError(f"{path}: column 'image' is {images.type}, not a struct {{bytes, path}} image")
        for data, label, source, image_id in zip(
            images.field("bytes").to_pylist(), batch.column("label").to_pylist(),
            batch.column("source").to_pylist(), batch.column("source_image_id").to_pylist(), strict=True,
        ):
            if label not in (0, 1):
                raise AuditInputError(f"{path}: row {row}: label {label!r}, expected 0 (pristine) or 1 (inpainted)")
            if not data:
                raise AuditInputError(
                    f"{path}: row {row}: the image has no bytes (a path-only image has no file to audit)"
                )
            try:
                features.append(raw_file_features(data))
            except ValueError as error:
                raise AuditInputError(f"{path}: row {row}: image bytes unreadable: {error}") from None
            canonical.append(is_canonical_png(data))
            labels.append(label)
            photos.append(f"{source}\x00{image_id}")
            row += 1
    matrix = np.asarray(features, float).reshape(-1, len(FEATURE_NAMES))
    return matrix, np.asarray(labels, int), photos, np.asarray(canonical, bool)


def audit_release_files(
    files_by_config: dict[str, list[Path]], bound: float = DEFAULT_AUC_BOUND, folds: int = DEFAULT_FOLDS, seed: int = 0
) -> dict[str, Any]:
    """The audit of each config's Parquet files (release files: FEATURES rows; see the module docstring)."""
    if not 0.5 <= bound <= 1.0:
        raise ValueError(f"bound {bound} is not an AUC between 0.5 and 1")
    if folds < 2:
        raise ValueError(f"folds {folds}: a cross-validation needs at least 2")
    configs = {}
    for name, paths in files_by_config.items():
        parts = [read_audit_columns(p) for p in paths]
        raw = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, len(FEATURE_NAMES)))
        labels = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, int)
        photos = [key for p in parts for key in p[2]]
        canonical = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, bool)
        features = np.asarray([_mask_sizes(row, flag) for row, flag in zip(raw, canonical, strict=False)]).reshape(
            raw.shape
        )
        entry = cross_validated_auc(features, labels, photos, folds, seed)
        entry["noncanonical"] = {"pristine": int((~canonical & (labels == 0)).sum()),
                                 "inpainted": int((~canonical & (labels == 1)).sum())}
        # The pixels' own compressibility (never a failure): every file's sizes, nothing else.
        sizes_only = np.where(np.isin(np.arange(len(FEATURE_NAMES)), _SIZE_COLUMNS), raw, 0.0)
        compressibility = cross_validated_auc(sizes_only, labels, photos, folds, seed)
        entry["pixel_compressibility"] = {k: compressibility.get(k) for k in ("auc", "z", "top_features", "reason")
                                          if k in compressibility}
        configs[name] = entry
    return {
        "bound": float(bound),
        "classifier": CLASSIFIER,
        "features": list(FEATURE_NAMES),
        "folds": int(folds),
        "configs": configs,
        "min_z": MIN_Z,
        "passed": not any(_fails(c, bound) for c in configs.values()),
        "override_reason": None,
    }


def cross_validated_auc(
    features: np.ndarray, labels: np.ndarray, photos: list[str], folds: int, seed: int
) -> dict[str, Any]:
    """{"auc", "n", "top_features"} of one config; "auc" None plus a "reason" when it cannot be measured."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    n = int(len(labels))
    groups = np.asarray(photos, dtype=object)
    photos_per_class = [len(set(groups[labels == label])) for label in (0, 1)]
    if min(photos_per_class) < 2:
        return {"auc": None, "n": n, "top_features": [], "reason": (
            f"not auditable: a grouped cross-validation needs at least 2 source photos of each class; "
            f"{photos_per_class[0]} photo(s) with pristine samples, {photos_per_class[1]} with inpainted ones")}
    splits = None
    for k in range(min(folds, *photos_per_class), 1, -1):
        candidate = list(
            StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(features, labels, groups)
        )
        # Photos carry both labels, so a split can leave one class out of a training part: then try fewer folds.
        if all(len(set(labels[train])) == 2 for train, _ in candidate):
            splits = candidate
            break
    if splits is None:
        return {"auc": None, "n": n, "top_features": [], "reason":
                "not auditable: no grouped split of these photos leaves both classes in every training part"}
    scores = np.zeros(n)
    importance = np.zeros(len(FEATURE_NAMES))
    for train, test in splits:
        model = GradientBoostingClassifier(max_depth=2, n_estimators=100, learning_rate=0.1, random_state=seed)
        model.fit(features[train], labels[train])
        scores[test] = model.predict_proba(features[test])[:, 1]
        importance += model.feature_importances_
    order = np.argsort(-importance, kind="stable")
    top = [FEATURE_NAMES[i] for i in order[:TOP_FEATURES] if importance[i] > 0]
    auc = float(roc_auc_score(labels, scores))
    n0, n1 = int((labels == 0).sum()), int((labels == 1).sum())
    chance_sd = float(np.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1)))  # the Mann-Whitney null's spread of an AUC
    return {"auc": auc, "n": n, "top_features": top, "chance_sd": chance_sd, "z": (auc - 0.5) / chance_sd}


def _fails(entry: dict[str, Any], bound: float) -> bool:
    """Above the bound, and far enough above chance that noise cannot explain it (``MIN_Z``)."""
    return entry["auc"] is not None and entry["auc"] > bound and entry.get("z", float("inf")) >= MIN_Z


def audit_generator_output(
    run_dir: str | Path, bound: float = DEFAULT_AUC_BOUND, folds: int = DEFAULT_FOLDS, seed: int = 0
) -> dict[str, Any]:
    """The audit of a generator output dir, as one config "default" over every shard its manifest lists."""
    from .inputs import load_generator_output

    generated = load_generator_output(run_dir, verify_hashes=False)
    return audit_release_files({"default": [shard.path for shard in generated.shards]}, bound, folds, seed)


def release_files_by_config(release_dir: str | Path) -> dict[str, list[Path]]:
    """Each config's Parquet files (every split) as ``release.json`` lists them under configs.<name>.splits."""
    import json

    release_dir = Path(release_dir)
    summary_path = release_dir / RELEASE_SUMMARY_NAME
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AuditInputError(f"{summary_path}: not a readable JSON file ({error})") from None
    configs = summary.get("configs") if isinstance(summary, dict) else None
    if not isinstance(configs, dict) or not configs:
        raise AuditInputError(f"{summary_path}: no 'configs' mapping of config name -> {{splits: ...}}")
    files: dict[str, list[Path]] = {}
    for name, config in configs.items():
        splits = config.get("splits") if isinstance(config, dict) else None
        if not isinstance(splits, dict):
            raise AuditInputError(f"{summary_path}: configs.{name} has no 'splits' mapping")
        files[name] = []
        for split, entry in splits.items():
            listed = entry.get("files") if isinstance(entry, dict) else None
            if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
                raise AuditInputError(f"{summary_path}: configs.{name}.splits.{split}.files is not a list of paths")
            files[name] += [release_dir / f for f in listed]
    return files


def audit_release_dir(
    release_dir: str | Path, bound: float = DEFAULT_AUC_BOUND, folds: int = DEFAULT_FOLDS, seed: int = 0
) -> dict[str, Any]:
    """The audit of a release folder, per config listed in its ``release.json``."""
    return audit_release_files(release_files_by_config(release_dir), bound, folds, seed)


def check_audit(result: dict[str, Any], override_reason: str | None) -> dict[str, Any]:
    """``result`` with "override_reason" set; ``ShortcutAuditError`` when a config is above the bound and no
    (non-blank) override reason is given. "passed" is left as measured: an override explains, it does not pass."""
    reason = override_reason.strip() if override_reason and override_reason.strip() else None
    failing = {name: entry for name, entry in result["configs"].items() if _fails(entry, result["bound"])}
    if failing and reason is None:
        raise ShortcutAuditError(result["bound"], failing)
    return {**result, "override_reason": reason}
