"""The file-level shortcut audit (builder/release/audit.py, ``inpaintbench audit``) and the one PNG encoder it
guards (builder/shards.py): real Parquet files, generator outputs and a release, a real photo with an Adobe RGB
profile. Every defence is shown beside the attack it stops."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.embedded import photo_path
from inpaintbench.builder.release.audit import (
    DEFAULT_AUC_BOUND,
    FEATURE_NAMES,
    SIZE_FEATURES,
    AuditInputError,
    ShortcutAuditError,
    audit_generator_output,
    audit_release_files,
    check_audit,
    file_features,
)
from inpaintbench.builder.shards import encode_png, png_chunks, write_shard
from inpaintbench.cli import main as cli_main
from inpaintbench.ids import recompute_sample_id
from tests.helpers.release_rows import make_rows, write_generator_output

PHOTOS = range(40)  # 40 photos: 40 pristine + 80 inpainted samples, 16 px each
# A real Adobe RGB (1998) profile, from a real camera JPEG (scikit-image's rocket photo).
ADOBE_RGB = Image.open(photo_path("skimage/rocket")).info["icc_profile"]
ICC_FEATURES = {"has_icc", "num_ancillary_chunks", "num_chunk_types"}  # the same fact, three ways


def old_encode_png(image: Image.Image) -> bytes:
    """The encoder before the policy: PIL copies the image's info["icc_profile"] into the file."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_at_level(level: int):
    def encode(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()

    return encode


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def tagged(array: np.ndarray) -> Image.Image:
    """A photo as a tagged camera file decodes: its pixels plus its profile in ``info``."""
    image = Image.fromarray(array)
    image.info["icc_profile"] = ADOBE_RGB
    return image


def chunk_types(png: bytes) -> list[str]:
    return [chunk.type for chunk in png_chunks(png)]


def rows_encoded(photos=PHOTOS, pristine_png=encode_png, inpainted_png=encode_png, size: int | None = None,
                 levels: int | None = None, noise_fill: bool = True) -> list[dict]:
    """make_rows' samples with their photos redrawn so that files differ from photo to photo as real ones do, and
    never by label: photo p is 16-24 px (or ``size``) of noise on 2-16 levels (or ``levels``: how well it
    compresses). A pristine
    image is the photo as its file decodes (tagged with a real profile); an inpainted one has fresh noise of the
    photo's levels in the mask or, with ``noise_fill=False``, one flat colour there. Ids recomputed."""
    rows = []
    for p in photos:
        side, photo_levels = size or 16 + (7 * p) % 9, levels or 2 + p % 15
        step = 255 // (photo_levels - 1)
        rng = np.random.default_rng(p)
        original = (rng.integers(0, photo_levels, (side, side, 3)) * step).astype(np.uint8)
        for row in make_rows([p], size=side):
            row["original"] = encode_png(Image.fromarray(original))
            if row["label"] == 0:
                row["image"] = pristine_png(tagged(original))
            else:
                mask = pixels(row["mask"]) > 0
                edited = original.copy()
                shape = (int(mask.sum()), 3) if noise_fill else (3,)
                edited[mask] = (rng.integers(0, photo_levels, shape) * step).astype(np.uint8)
                row["image"] = inpainted_png(Image.fromarray(edited))
            row["sample_id"] = recompute_sample_id(row)  # ids name their pixels (inpaintbench.ids)
            rows.append(row)
    return rows


def write_unguarded_generator_output(out, rows, rows_per_shard: int = 30):
    """A generator output as a writer without the encoding check wrote it (the old generator: datasets straight
    to Parquet), with records and manifest from the generator's own code."""
    import datasets

    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.manifest import build_manifest, write_manifest
    from inpaintbench.builder.shards import IMAGE_COLUMNS, ShardRecord, sample_summary
    from inpaintbench.digests import file_digest
    from inpaintbench.schema import COLUMNS, FEATURES

    config = GenerateConfig(out_dir=str(out), seed=0)
    chunks = [rows[start : start + rows_per_shard] for start in range(0, len(rows), rows_per_shard)]
    records = []
    for index, chunk in enumerate(chunks):
        rel = f"data/shard-{index:05d}.parquet"
        columns = {c: [r[c] for r in chunk] for c in COLUMNS}
        for c in IMAGE_COLUMNS:
            columns[c] = [{"bytes": value, "path": None} for value in columns[c]]
        (out / "data").mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict(columns, features=FEATURES).to_parquet(str(out / rel))
        sha256, size = file_digest(out / rel)
        items = sorted({(r["source"], r["source_image_id"]) for r in chunk})
        records.append(ShardRecord(config.config_hash, index, len(chunks), rel, [list(i) for i in items], sha256, size,
                                   [sample_summary(r) for r in chunk], []))
    write_manifest(out, build_manifest(config, records, num_images=len({r["source_image_id"] for r in rows})))
    return out


@pytest.fixture(scope="module")
def clean_output(tmp_path_factory):
    """The attack's very rows (tagged pristine photos), written by the one encoder through the guarded writer."""
    return write_generator_output(tmp_path_factory.mktemp("clean") / "gen", rows_encoded(), rows_per_shard=30)


@pytest.fixture(scope="module")
def icc_output(tmp_path_factory):
    """The attack: pristine PNGs written the old way carry the photo's ICC profile, inpainted ones none."""
    rows = rows_encoded(pristine_png=old_encode_png)
    return write_unguarded_generator_output(tmp_path_factory.mktemp("icc") / "gen", rows)


# ---- the one encoder -----------------------------------------------------------------------------------------


def test_the_encoder_writes_pixels_only_whatever_the_image_carries():
    array = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    photo = tagged(array)
    exif = Image.Exif()
    exif[0x010F] = "camera maker"
    photo.info.update(exif=exif.tobytes(), transparency=(1, 2, 3), dpi=(300, 300))
    attack = old_encode_png(photo)
    assert "iCCP" in chunk_types(attack) and "tRNS" in chunk_types(attack)  # what the old path wrote
    encoded = encode_png(photo)
    assert set(chunk_types(encoded)) == {"IHDR", "IDAT", "IEND"}
    assert encoded == encode_png(Image.fromarray(array))  # the bytes are a function of the pixels alone
    assert np.array_equal(pixels(encoded), array)
    with pytest.raises(ValueError, match="mode RGB or L images, got mode RGBA"):
        encode_png(Image.fromarray(array).convert("RGBA"))


def test_the_shard_writer_refuses_bytes_of_any_other_encoding(tmp_path):
    rows = make_rows([0])
    pristine = rows[0]
    for image, problem in [
        (old_encode_png(tagged(pixels(pristine["original"]))), r"chunk\(s\) iCCP"),
        (png_at_level(9)(Image.fromarray(pixels(pristine["original"]))), "the encoder's level 2"),
        # PIL at level 3 writes the same zlib header as the encoder (FLEVEL 1); its first row is never Up-filtered
        # (on row 0 Up equals None, and PIL keeps None on a tie).
        (png_at_level(3)(Image.fromarray(pixels(pristine["original"]))), "first row filtered with type 0[01], not 2"),
        (
            encode_png(Image.fromarray(pixels(pristine["original"])).convert("L")),
            "colour type 0, interlace 0; column .image. holds 8-bit RGB",
        ),
        (jpeg(Image.fromarray(pixels(pristine["original"]))), "not a PNG"),
    ]:
        pristine["image"] = image
        with pytest.raises(ValueError, match=f"sample {pristine['sample_id']}: column 'image': .*{problem}"):
            write_shard(rows, tmp_path / "shard.parquet")
    assert not (tmp_path / "shard.parquet").exists()
    pristine["image"] = encode_png(tagged(pixels(pristine["original"])))
    write_shard(rows, tmp_path / "shard.parquet")


def test_a_tagged_photo_gives_a_pristine_png_encoded_like_its_inpainted_ones(tmp_path):
    """Through the generator's own sample maker, on a real camera JPEG tagged Adobe RGB (1998)."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.image_samples import SampleMaker
    from inpaintbench.builder.sources.embedded import embedded_source

    config = GenerateConfig.from_dict({
        "backends": [{"name": "opencv_telea"}], "pristine_ratio": 0.5, "max_image_side": 96, "min_object_pixels": 50,
        "out_dir": str(tmp_path),
    })
    rows, _ = SampleMaker(config, {"embedded": embedded_source(max_side=96)}).samples_for("embedded", "rocket")
    pristine = next(r for r in rows if r["label"] == 0)
    inpainted = next(r for r in rows if r["label"] == 1)
    # The attack: the source photo saved as it decodes (the old pristine PNG) carries the profile.
    with Image.open(photo_path("skimage/rocket")) as raw:
        assert "iCCP" in chunk_types(old_encode_png(raw))
    for row in (pristine, inpainted):
        types = chunk_types(row["image"])
        assert types[0] == "IHDR" and types[-1] == "IEND" and set(types[1:-1]) == {"IDAT"}  # no iCCP, no metadata
    header = {r["label"]: r["image"][8:33] for r in (pristine, inpainted)}  # IHDR chunk: size, depth, type, ...
    assert header[0] == header[1]
    zlib_header = {r["label"]: r["image"][png_chunks(r["image"])[1].offset :][:2] for r in (pristine, inpainted)}
    assert zlib_header[0] == zlib_header[1]
    assert pristine["image"] == encode_png(Image.fromarray(pixels(pristine["image"])))
    normalisation = json.loads(pristine["extra"])["normalisation"]
    assert normalisation["icc_profile"]["description"] == "Adobe RGB (1998)"
    assert normalisation["icc_profile"]["action"].startswith("converted to sRGB")


# ---- the audit ---------------------------------------------------------------------------------------------


def test_icc_in_pristine_pngs_is_found_and_refused(icc_output):
    result = audit_generator_output(icc_output)
    entry = result["configs"]["default"]
    assert entry["n"] == 120 and entry["auc"] > 0.95
    assert ICC_FEATURES & set(entry["top_features"])
    assert result["passed"] is False and result["bound"] == DEFAULT_AUC_BOUND
    assert result["features"] == list(FEATURE_NAMES) and result["override_reason"] is None
    with pytest.raises(ShortcutAuditError) as caught:
        check_audit(result, None)
    message = str(caught.value)
    assert f"config 'default': AUC {entry['auc']:.3f} > bound {DEFAULT_AUC_BOUND:.2f}" in message
    assert entry["top_features"][0] in message
    with pytest.raises(ShortcutAuditError):
        check_audit(result, "   ")  # a blank reason is no reason
    overridden = check_audit(result, "known: pristine PNGs carry the camera profile, fixed in v2")
    assert overridden["override_reason"].startswith("known:") and overridden["passed"] is False


def test_a_profile_on_some_pristine_pngs_only_is_found(tmp_path):
    """The leak as the embedded photos had it: only the tagged camera files (3 in 8 here, 5 in 13 there) carry it."""
    rows = rows_encoded()
    for row in rows:
        if row["label"] == 0 and int(row["source_image_id"].removeprefix("photo")) % 8 < 3:
            row["image"] = old_encode_png(tagged(pixels(row["original"])))
    entry = audit_generator_output(write_unguarded_generator_output(tmp_path / "gen", rows))["configs"]["default"]
    assert entry["auc"] > DEFAULT_AUC_BOUND  # 0.5 + 3/8 / 2 = 0.69 from the profile alone
    assert ICC_FEATURES & set(entry["top_features"])


def test_the_same_rows_through_the_one_encoder_pass(clean_output):
    result = audit_generator_output(clean_output)
    entry = result["configs"]["default"]
    assert entry["n"] == 120 and entry["auc"] <= DEFAULT_AUC_BOUND
    assert not ICC_FEATURES & set(entry["top_features"])
    assert result["passed"] is True
    assert check_audit(result, None)["override_reason"] is None
    assert set(result) == {"bound", "classifier", "features", "folds", "configs", "passed", "override_reason", "min_z"}
    assert set(entry) == {"auc", "n", "top_features", "chance_sd", "z", "noncanonical", "pixel_compressibility"}
    assert entry["noncanonical"] == {"pristine": 0, "inpainted": 0}


def test_an_auc_above_the_bound_that_noise_explains_fails_nothing():
    """A small release can land above the bound by chance (the embedded default: 0.68 over 21 samples); the audit
    refuses only what is also MIN_Z chance deviations above 0.5. The attack beside it: the same AUC over many
    samples is refused."""
    from inpaintbench.builder.release.audit import MIN_Z, ShortcutAuditError

    def result(n0, n1, auc):
        sd = ((n0 + n1 + 1) / (12 * n0 * n1)) ** 0.5
        entry = {"auc": auc, "n": n0 + n1, "top_features": ["bytes_per_pixel"], "chance_sd": sd, "z": (auc - 0.5) / sd}
        return {"bound": DEFAULT_AUC_BOUND, "configs": {"default": entry}}

    small = result(6, 15, 0.68)
    assert small["configs"]["default"]["z"] < MIN_Z
    assert check_audit(small, None)["override_reason"] is None
    with pytest.raises(ShortcutAuditError, match="AUC 0.680"):
        check_audit(result(100, 300, 0.68), None)


def odd_sized_pristine_photos():
    """Pristine samples only from pristine-only photos (17 px), inpainted ones only from edited photos (16 px)."""
    inpainted = [r for r in rows_encoded(range(40), size=16) if r["label"] == 1]
    pristine = [r for r in rows_encoded(range(100, 140), size=17) if r["label"] == 0]
    return inpainted + pristine


@pytest.mark.parametrize(
    "name, rows, expected_features",
    [
        # Non-canonical files keep their sizes where canonical ones have NOT_APPLICABLE: those tell it too.
        (
            "compress_level 9 for inpainted",
            lambda: rows_encoded(inpainted_png=png_at_level(9)),
            {"zlib_level_bits", "noncanonical_encoding", *SIZE_FEATURES},
        ),
        (
            "pristine-only odd sizes",
            odd_sized_pristine_photos,
            {
                "width",
                "height",
                "width_mod8",
                "width_mod16",
                "width_mod64",
                "height_mod8",
                "height_mod16",
                "height_mod64",
            },
        ),
        # Any PNG-only feature (-1 for a JPEG) tells the format as well as format_png does.
        (
            "real JPEG, fake PNG",
            lambda: rows_encoded(pristine_png=jpeg),
            {
                "format_png",
                "format_jpeg",
                "bit_depth",
                "color_type",
                "interlace",
                "zlib_level_bits",
                "zlib_window_bits",
                "num_idat",
                "idat_first_bytes",
                "idat_last_bytes",
                "idat_max_bytes",
            },
        ),
    ],
)
def test_other_file_level_shortcuts_are_found(tmp_path, name, rows, expected_features):
    output = write_unguarded_generator_output(tmp_path / "gen", rows())
    entry = audit_generator_output(output)["configs"]["default"]
    assert entry["auc"] > 0.95, name
    assert expected_features & set(entry["top_features"][:2]), (name, entry)


def test_a_flat_fill_is_reported_as_pixel_compressibility_and_fails_nothing_when_files_are_canonical(tmp_path):
    """Not a storage difference but the edit itself: a flat fill in noise compresses better. The one encoder
    cannot remove that, and any pixel detector sees it in the pixels: the audit reports it under
    pixel_compressibility with the feature that carries it, and the verdict leaves canonical files' sizes out.
    (Photos alike in how they compress: where they differ as much as rows_encoded's default, the fill's few
    percent drown in that.) The attack beside it: the same pixels stored by another encoder keep their sizes in
    the verdict, and it is refused."""
    rows = rows_encoded(size=16, levels=16, noise_fill=False)
    result = audit_generator_output(write_generator_output(tmp_path / "gen", rows, rows_per_shard=30))
    entry = result["configs"]["default"]
    assert entry["pixel_compressibility"]["auc"] > 0.8
    assert set(SIZE_FEATURES) & set(entry["pixel_compressibility"]["top_features"][:1])
    assert entry["auc"] <= DEFAULT_AUC_BOUND and result["passed"] is True
    assert not set(SIZE_FEATURES) & set(entry["top_features"])

    for row in rows:  # every file, both labels, through PIL: none is canonical, so sizes stay in the verdict
        row["image"] = png_at_level(6)(Image.fromarray(pixels(row["image"])))
    stored = audit_generator_output(write_unguarded_generator_output(tmp_path / "pil", rows))
    entry = stored["configs"]["default"]
    assert entry["noncanonical"] == {"pristine": 40, "inpainted": 80}
    assert entry["auc"] > 0.8 and stored["passed"] is False
    assert set(SIZE_FEATURES) & set(entry["top_features"][:1])


def test_another_filter_for_one_label_is_caught_by_the_canonical_check_alone(tmp_path):
    """The storage leak no header shows: inpainted files deflated by the same libdeflate level (same zlib header
    bits, one IDAT, same chunks) after another PNG filter. Only the canonical check tells them apart; the attack
    beside it: with that feature ignored, the audit passes them."""
    import struct

    import deflate

    from inpaintbench.builder import png_encoder

    def sub_filtered(image: Image.Image) -> bytes:
        array = np.asarray(image)
        height, width = array.shape[:2]
        rows_ = array.reshape(height, -1)
        lines = np.empty((height, rows_.shape[1] + 1), np.uint8)
        lines[:, 0] = 1  # Sub: each byte minus the byte 3 to its left
        lines[:, 1:4] = rows_[:, :3]
        np.subtract(rows_[:, 3:], rows_[:, :-3], out=lines[:, 4:])
        header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        idat = deflate.zlib_compress(lines, png_encoder.LEVEL)
        return b"".join((png_encoder.SIGNATURE, png_encoder._chunk(b"IHDR", header), png_encoder._chunk(b"IDAT", idat),
                         png_encoder._chunk(b"IEND", b"")))

    rows = rows_encoded(inpainted_png=sub_filtered)
    assert all(pixels(r["image"]).shape == pixels(r["original"]).shape for r in rows)  # a valid PNG of the pixels
    output = write_unguarded_generator_output(tmp_path / "gen", rows)
    result = audit_generator_output(output)
    entry = result["configs"]["default"]
    assert entry["noncanonical"] == {"pristine": 0, "inpainted": 80}
    assert entry["auc"] > 0.95 and result["passed"] is False
    # The flag, or the sizes it leaves in (a canonical file's are NOT_APPLICABLE): the same fact.
    assert entry["top_features"][0] in {"noncanonical_encoding", *SIZE_FEATURES}

    from inpaintbench.builder.release import audit

    flag = FEATURE_NAMES.index("noncanonical_encoding")
    raw = [audit.raw_file_features(r["image"]) for r in rows]  # what the audit saw before this check
    headers_only = np.asarray([[0.0 if i == flag or FEATURE_NAMES[i] in SIZE_FEATURES else v for i, v in enumerate(f)]
                               for f in raw])
    labels = np.asarray([r["label"] for r in rows])
    photos = [f"{r['source']}\x00{r['source_image_id']}" for r in rows]
    blind = audit.cross_validated_auc(headers_only, labels, photos, 5, 0)
    assert blind["auc"] <= DEFAULT_AUC_BOUND


def test_too_few_photos_is_not_auditable_and_fails_nothing(tmp_path):
    rows = [r for r in rows_encoded(range(6)) if r["label"] == 1 or r["source_image_id"] == "photo000"]
    output = write_generator_output(tmp_path / "gen", rows, rows_per_shard=30)
    result = audit_generator_output(output)
    entry = result["configs"]["default"]
    assert entry["auc"] is None and entry["n"] == 13
    assert (
        "at least 2 source photos of each class; 1 photo(s) with pristine samples, 6 with inpainted" in entry["reason"]
    )
    assert result["passed"] is True and check_audit(result, None)["override_reason"] is None
    empty = audit_release_files({"empty": []})["configs"]["empty"]
    assert empty["auc"] is None and empty["n"] == 0


def test_file_features_read_headers_not_pixels():
    array = np.random.default_rng(1).integers(0, 256, (21, 70, 3), dtype=np.uint8)
    png = dict(zip(FEATURE_NAMES, file_features(old_encode_png(tagged(array))), strict=True))
    assert png["format_png"] == 1 and png["mode_rgb"] == 1 and png["has_icc"] == 1 and png["num_ancillary_chunks"] == 1
    assert (png["width"], png["height"], png["width_mod8"], png["height_mod16"]) == (70, 21, 6, 5)
    assert png["bit_depth"] == 8 and png["color_type"] == 2 and png["zlib_level_bits"] == 2 and png["num_idat"] == 1
    photo = Image.fromarray(array)
    photo.info["icc_profile"] = ADOBE_RGB
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", icc_profile=ADOBE_RGB)
    jpg = dict(zip(FEATURE_NAMES, file_features(buffer.getvalue()), strict=True))
    assert jpg["format_jpeg"] == 1 and jpg["has_icc"] == 1 and jpg["num_idat"] == -1
    with pytest.raises(ValueError, match="not a PNG and not an image PIL can read"):
        file_features(b"garbage bytes")
    with pytest.raises(ValueError, match="cut short"):
        file_features(encode_png(photo)[:40])


# ---- the command line --------------------------------------------------------------------------------------


def test_cli_exit_codes_on_generator_outputs(clean_output, icc_output, tmp_path, capsys):
    assert cli_main(["audit", "--data", str(clean_output)]) == 0
    assert "default: AUC" in capsys.readouterr().out
    assert cli_main(["audit", "--data", str(icc_output)]) == 1
    out = capsys.readouterr().out
    assert "ABOVE THE BOUND" in out and "FAILED" in out
    assert cli_main(["audit", "--data", str(icc_output), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["configs"]["default"]["auc"] > 0.95

    assert cli_main(["audit", "--data", str(tmp_path)]) == 2
    assert f"{tmp_path}: neither a release folder (release.json) nor a generator output" in capsys.readouterr().err
    broken = write_unguarded_generator_output(
        tmp_path / "broken", [dict(make_rows([0])[0], image=b"garbage")] + make_rows([1])
    )
    assert cli_main(["audit", "--data", str(broken)]) == 2
    assert "shard-00000.parquet: row 0: image bytes unreadable: not a PNG" in capsys.readouterr().err
    (broken / "data" / "shard-00000.parquet").unlink()
    assert cli_main(["audit", "--data", str(broken)]) == 2
    assert "shard-00000.parquet" in capsys.readouterr().err


def retag_pristine_images(parquet_path) -> None:
    """Rewrite a release file's pristine images the old way (the photo's profile in an iCCP chunk), rows and
    schema (with its Features metadata) otherwise as they were."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(parquet_path)
    images = table.column("image").to_pylist()
    for image, label in zip(images, table.column("label").to_pylist(), strict=True):
        if label == 0:
            image["bytes"] = old_encode_png(tagged(pixels(image["bytes"])))
    column = pa.array(images, type=table.schema.field("image").type)
    pq.write_table(table.set_column(table.schema.get_field_index("image"), "image", column), parquet_path)


@pytest.mark.slow  # a release through `inpaintbench publish --to` (~4 s)
def test_cli_audits_each_config_of_a_release(clean_output, tmp_path, capsys):
    import shutil

    release = tmp_path / "clean"
    assert cli_main(["publish", "--version", "1.0.0", "--data", str(clean_output), "--out", str(release)]) == 0
    capsys.readouterr()
    assert cli_main(["audit", "--data", str(release), "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    summary = json.loads((release / "release.json").read_text())
    assert set(clean["configs"]) == set(summary["configs"]) == {"default", "paste_back"}
    for name, config in summary["configs"].items():
        assert clean["configs"][name]["n"] == sum(s["num_samples"] for s in config["splits"].values())

    # The attack in a release: the same layout, its pristine PNGs carrying the camera profile.
    tagged_release = tmp_path / "tagged"
    shutil.copytree(release, tagged_release)
    for path in sorted((tagged_release / "data").rglob("*.parquet")):
        retag_pristine_images(path)
    assert cli_main(["audit", "--data", str(tagged_release)]) == 1
    out = capsys.readouterr().out
    assert "default: AUC 1.000" in out and "paste_back: AUC 1.000" in out and "ABOVE THE BOUND" in out

    listed = summary["configs"]["default"]["splits"]["train"]["files"][0]
    (release / listed).unlink()
    assert cli_main(["audit", "--data", str(release)]) == 2
    assert f"{release / listed}: file not found" in capsys.readouterr().err
    (release / "release.json").write_text("{not json")
    assert cli_main(["audit", "--data", str(release)]) == 2
    assert "release.json: not a readable JSON file" in capsys.readouterr().err
    from inpaintbench.builder.release.audit import audit_release_dir

    with pytest.raises(AuditInputError, match="release.json: not a readable JSON file"):
        audit_release_dir(release)
