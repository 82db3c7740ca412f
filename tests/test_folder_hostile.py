"""Hostile folder submissions: each test builds the attack for real on disk, shows it is real (what a naive reader
would have done with it), and runs a real evaluation: the bad file is one named problem, the rest of the run
scores exactly as a clean folder where that sample is a miss (score 0, all-zero map)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaintbench.harness.data import open_eval_data
from inpaintbench.harness.folder import FolderSubmission, FolderSubmissionError
from inpaintbench.harness.problems import (
    MAP_MAX_PIXELS,
    PredictionProblem,
    SubmissionError,
    check_map,
    check_map_shape,
    check_score,
)
from inpaintbench.harness.run import EvalOptions, run_evaluation
from tests.helpers.harness_rows import H, W, oracle_maps, write_shard

N = 8
ORACLE = oracle_maps(N)
IDS = sorted(ORACLE)
SCORES = {k: round(float(v.mean() / 255), 4) for k, v in ORACLE.items()}
FIFO = object()


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    return write_shard(tmp_path_factory.mktemp("data") / "part.parquet", n=N)


# -- building folders --------------------------------------------------------------------------------------

def _write(path: Path, content) -> None:
    """ndarray -> PNG (mode from the dtype: uint8 L, uint16 16-bit, bool 1-bit) or np.save (dtype and memory
    order kept); bytes -> written as is; Path -> a symlink to it; FIFO -> a named pipe."""
    if content is FIFO:
        os.mkfifo(path)
    elif isinstance(content, Path):
        os.symlink(content, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif path.suffix == ".npy":
        np.save(path, content, allow_pickle=content.dtype.hasobject)
    else:
        Image.fromarray(content).save(path)


def build(root: Path, maps: dict, scores: dict | None = SCORES) -> Path:
    """``maps``: file name in maps/ -> content (see _write); samples not named get their oracle map as PNG."""
    (root / "maps").mkdir(parents=True)
    named = {Path(name).stem for name in maps}
    for sample_id in IDS:
        if sample_id not in named:
            _write(root / "maps" / f"{sample_id}.png", ORACLE[sample_id])
    for name, content in maps.items():
        _write(root / "maps" / name, content)
    if scores is not None:
        (root / "scores.csv").write_text("sample_id,score\n" + "".join(f"{k},{v}\n" for k, v in scores.items()))
    return root


def baseline(root: Path, failed: dict[str, str], with_maps: bool = True) -> Path:
    """The clean folder the penalize policy must equal: oracle maps and scores, except each failed sample has
    score 0 and an all-zero map of the same file type (``failed``: id -> ".png" / ".npy")."""
    maps = {f"{i}{suffix}": np.zeros((H, W), np.uint8 if suffix == ".png" else np.float32)
            for i, suffix in failed.items()}
    return build(root, maps, {k: (0.0 if k in failed else v) for k, v in SCORES.items()})


def evaluate(folder: Path, shard: str, policy: str = "penalize") -> dict:
    opts = EvalOptions(data=shard, submission=str(folder), bootstrap=0, progress=False, policy=policy)
    return run_evaluation(opts, open_eval_data(shard), use_evaluate=False)


def failures(results: dict) -> dict[str, tuple[str, str]]:
    return {f["sample_id"]: (f["kind"], f["detail"]) for f in results["failures"]["samples"]}


def assert_refused(folder, shard, tmp_path, expected: dict[str, str], suffixes: dict[str, str] | None = None):
    """Penalize: exactly ``expected`` (id -> kind), each message naming its file, everything else scored exactly
    as the clean baseline. Strict: the run stops listing the same problems. Returns the failures."""
    results = evaluate(folder, shard)
    found = failures(results)
    assert {k: v[0] for k, v in found.items()} == expected
    suffixes = suffixes or {}
    for sample_id, (_, detail) in found.items():
        name = f"maps/{sample_id}{suffixes.get(sample_id, '.png')}"
        assert detail.startswith(f"{name}: "), detail
    assert results["metrics"]["n_images"] == N
    clean = evaluate(baseline(tmp_path / "clean", {i: suffixes.get(i, ".png") for i in expected}), shard)
    assert clean["failures"]["count"] == 0
    assert results["metrics"] == clean["metrics"]
    with pytest.raises(SubmissionError) as info:
        evaluate(folder, shard, policy="strict")
    assert {(p.sample_id, p.kind) for p in info.value.problems} == set(expected.items())
    return found


# -- 1. decompression bomb -----------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 20000) -> bytes:
    """A real 8-bit grayscale PNG of side x side zeros: its IDAT inflates to side * (side + 1) bytes (400 MB for
    20000) from ~400 KB. Built from one compressed block repeated (a full flush resets the compressor, so every
    block compresses to the same bytes) to stay fast; the adler32 is the real one."""
    rows = 500
    block = bytes((side + 1) * rows)
    comp = zlib.compressobj(9)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(side // rows):
        adler = zlib.adler32(block, adler)
    idat = first + again * (side // rows - 1) + b"\x03\x00" + struct.pack(">I", adler)  # empty final block
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def test_png_bomb_is_refused_from_its_header_by_our_limit(tmp_path, shard, monkeypatch):
    folder = build(tmp_path / "sub", {"s001.png": png_bomb()})
    bomb = folder / "maps" / "s001.png"
    # The attack is real: a file under 1 MB that PIL itself calls a bomb, and whose header claims 400 MP.
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(Image.DecompressionBombError):
        Image.open(bomb)
    # PIL's guard off: our limit, with our message, must be what refuses it (and it must not be decoded).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(bomb) as img:
        assert img.size == (20000, 20000)
    found = assert_refused(folder, shard, tmp_path, {"s001": "too_large"})
    detail = found["s001"][1]
    assert "20000 x 20000 = 400,000,000 pixels" in detail
    assert f"limit of {64 * H * W:,}" in detail


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_png_bomb_costs_no_memory(tmp_path):
    """In a fresh process with PIL's guard off: refusing the bomb raises the peak RSS by far less than the 400 MB
    decoding it would take. VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS at fork, so a
    large pytest process would hide any growth."""
    folder = build(tmp_path / "sub", {"s001.png": png_bomb()})
    child = (
        "import sys\n"
        "from PIL import Image\n"
        "Image.MAX_IMAGE_PIXELS = None\n"
        "from inpaintbench.harness.folder import FolderSubmission\n"
        "from inpaintbench.harness.problems import PredictionProblem\n"
        "def peak_kib():\n"
        "    status = open('/proc/self/status').read()\n"
        "    return int(status.split('VmHWM:')[1].split()[0])\n"
        "sub = FolderSubmission(sys.argv[1])\n"
        "before = peak_kib()\n"
        "try:\n"
        "    sub.prediction('s001', (40, 56)); kind = 'accepted'\n"
        "except PredictionProblem as exc:\n"
        "    kind = exc.kind\n"
        "print(kind, peak_kib() - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", child, str(folder)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    kind, grown_kib = out.stdout.split()
    assert kind == "too_large"
    assert int(grown_kib) < 20 * 1024  # decoding would add 400 MB


def test_map_limit_is_one_rule_for_folders_and_detectors():
    check_map_shape((H * 8, W * 8), (H, W))  # 64 x the pixels: the largest accepted
    with pytest.raises(PredictionProblem) as info:
        check_map_shape((H * 8 + 1, W * 8 + 1), (H, W))
    assert info.value.kind == "too_large"
    with pytest.raises(PredictionProblem, match="too_large|over the limit") as info:
        check_map(np.zeros((H * 9, W * 9), np.uint8), (H, W))  # a detector's map meets the same rule
    assert info.value.kind == "too_large"
    check_map_shape((10000, 10000), (10000, 10000))  # the image's own size always passes, even above the cap
    assert 10000 * 10000 > MAP_MAX_PIXELS


# -- 2. .npy headers ------------------------------------------------------------------------------------------

def npy_bytes(descr: str, shape: tuple, data: bytes, fortran: bool = False) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran, "shape": shape})
    return buf.getvalue() + data


def test_npy_header_claiming_30_gb_is_refused_before_reading(tmp_path, shard):
    folder = build(tmp_path / "sub", {"s001.npy": npy_bytes("<f4", (100_000, 75_000), b"\0" * 16)})
    path = folder / "maps" / "s001.npy"
    with open(path, "rb") as fh:  # the attack is real: numpy's own header reader sees a 30 GB array
        np.lib.format.read_magic(fh)
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    assert int(np.prod(shape)) * dtype.itemsize == 30_000_000_000
    assert path.stat().st_size < 200
    found = assert_refused(folder, shard, tmp_path, {"s001": "too_large"}, {"s001": ".npy"})
    assert "100000 x 75000" in found["s001"][1]


def test_truncated_npy_is_refused_before_reading(tmp_path, shard):
    data = (ORACLE["s003"].astype(np.float32) / 255).tobytes()
    folder = build(tmp_path / "sub", {"s003.npy": npy_bytes("<f4", (H, W), data[: len(data) // 2])})
    with pytest.raises(ValueError):  # the attack is real: numpy cannot load it either
        np.load(folder / "maps" / "s003.npy")
    found = assert_refused(folder, shard, tmp_path, {"s003": "unreadable"}, {"s003": ".npy"})
    assert "truncated" in found["s003"][1] and f"{H * W * 4:,} bytes" in found["s003"][1]


class _Payload:
    """Unpickling this runs os.mkdir(path): a stand-in for any code a pickle can run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_object_npy_is_never_unpickled(tmp_path, shard):
    marker = tmp_path / "pwned"
    payload = np.array([[_Payload(str(marker))]], dtype=object)
    folder = build(tmp_path / "sub", {"s005.npy": payload})
    np.load(folder / "maps" / "s005.npy", allow_pickle=True)  # the attack is real: loading it runs the code
    assert marker.is_dir()
    marker.rmdir()
    found = assert_refused(folder, shard, tmp_path, {"s005": "wrong_dtype"}, {"s005": ".npy"})
    assert "pickled" in found["s005"][1]
    assert not marker.exists()


def test_fortran_order_and_big_endian_npy_read_as_their_values(tmp_path, shard):
    f32 = {k: v.astype(np.float32) / np.float32(255) for k, v in ORACLE.items()}
    hostile = {"s001.npy": np.asfortranarray(f32["s001"]), "s002.npy": f32["s002"].astype(">f4"),
               "s003.npy": np.asfortranarray(f32["s003"].astype(">f8"))}
    folder = build(tmp_path / "sub", hostile)
    with open(folder / "maps" / "s001.npy", "rb") as fh:  # really stored column-major
        np.lib.format.read_magic(fh)
        assert np.lib.format.read_array_header_1_0(fh)[1] is True
    sub = FolderSubmission(folder)
    for name in hostile:
        sample_id = Path(name).stem
        _, pred = sub.prediction(sample_id, (H, W))
        assert pred.dtype.isnative and pred.shape == (H, W)
        np.testing.assert_array_equal(pred, f32[sample_id])
    clean = build(tmp_path / "clean", {"s001.npy": f32["s001"], "s002.npy": f32["s002"],
                                       "s003.npy": f32["s003"].astype(np.float64)})
    results, expected = evaluate(folder, shard, "strict"), evaluate(clean, shard, "strict")
    assert results["metrics"] == expected["metrics"]


# -- 3. symlinks and special files ----------------------------------------------------------------------------

@pytest.mark.timeout(60)  # a FIFO opened for reading blocks until a writer comes: this would hang, not fail
def test_symlinks_and_fifos_in_maps_are_refused_unfollowed(tmp_path, shard):
    outside = tmp_path / "outside"
    outside.mkdir()
    _write(outside / "s001.png", ORACLE["s001"])
    folder = build(tmp_path / "sub", {"s001.png": outside / "s001.png", "s002.png": Path("../keep/s002.png"),
                                      "s003.png": FIFO, "s005.png": Path("s005.png")})  # s005: a loop
    (folder / "keep").mkdir()
    _write(folder / "keep" / "s002.png", ORACLE["s002"])
    maps = folder / "maps"
    # The attack is real: following the links reads valid maps (one from outside the folder).
    assert (maps / "s001.png").is_symlink() and np.array_equal(
        np.asarray(Image.open(maps / "s001.png")), ORACLE["s001"]
    )
    assert np.array_equal(np.asarray(Image.open(maps / "s002.png")), ORACLE["s002"])
    found = assert_refused(folder, shard, tmp_path, {"s001": "symlink", "s002": "symlink", "s003": "unreadable",
                                                     "s005": "symlink"})
    assert "outside the submission folder" in found["s001"][1] and str(outside) in found["s001"][1]
    assert "inside the submission folder" in found["s002"][1]
    assert "loop" in found["s005"][1]
    assert "FIFO" in found["s003"][1]


def test_symlinked_maps_folder_is_refused_for_every_sample(tmp_path, shard):
    outside = tmp_path / "outside"
    outside.mkdir()
    for sample_id in IDS:
        _write(outside / f"{sample_id}.png", ORACLE[sample_id])
    folder = tmp_path / "sub"
    folder.mkdir()
    os.symlink(outside, folder / "maps")
    (folder / "scores.csv").write_text("sample_id,score\n" + "".join(f"{k},{v}\n" for k, v in SCORES.items()))
    assert sorted(os.listdir(folder / "maps")) == [f"{i}.png" for i in IDS]  # the attack is real
    results = evaluate(folder, shard)
    found = failures(results)
    assert {k: v[0] for k, v in found.items()} == dict.fromkeys(IDS, "symlink")
    assert all(detail.startswith("maps: a symlink") and "outside" in detail for _, detail in found.values())
    assert results["metrics"]["n_images"] == N


def test_symlinked_scores_file_is_refused_for_every_sample(tmp_path, shard):
    outside = tmp_path / "outside.csv"
    outside.write_text("sample_id,score\n" + "".join(f"{k},{v}\n" for k, v in SCORES.items()))
    folder = build(tmp_path / "sub", {}, scores=None)
    os.symlink(outside, folder / "scores.csv")
    assert (folder / "scores.csv").read_text().startswith("sample_id,score")  # the attack is real
    results = evaluate(folder, shard)
    found = failures(results)
    assert {k: v[0] for k, v in found.items()} == dict.fromkeys(IDS, "symlink")
    assert all(detail.startswith("scores.csv: a symlink") for _, detail in found.values())
    assert results["metrics"]["n_images"] == N


# -- 4. files beside the maps -----------------------------------------------------------------------------------

def test_os_and_text_files_beside_maps_are_notes_not_problems(tmp_path, shard):
    junk = {"README.txt": b"our detector v2\n", ".DS_Store": b"\0\0\0\1Bud1" + bytes(64), "Thumbs.db": bytes(512),
            "desktop.ini": b"[.ShellClassInfo]\r\n", "._s001.png": b"\0\5\26\7\0\2\0\0Mac OS X" + bytes(32)}
    folder = build(tmp_path / "sub", junk)
    (folder / "maps" / "__MACOSX").mkdir()
    (folder / "maps" / "__MACOSX" / "._s002.png").write_bytes(bytes(16))
    with pytest.raises(OSError):  # the resource fork is named like a map but is not an image
        Image.open(folder / "maps" / "._s001.png")
    results = evaluate(folder, shard, policy="strict")
    assert results["failures"]["count"] == 0
    assert results["metrics"] == evaluate(build(tmp_path / "clean", {}), shard, "strict")["metrics"]
    notes = results["detector"]["notes"]
    assert notes == sorted(notes, key=lambda n: n.split(":")[0]) and len(notes) == 6
    for name in (*junk, "__MACOSX"):
        assert any(note.startswith(f"maps/{name}: ignored (") for note in notes), name
    # A file that looks like a map in a format that is not read stays a problem.
    _write(folder / "maps" / "s000.jpg", ORACLE["s000"][..., None].repeat(3, 2))
    assert [(p.sample_id, p.kind) for p in FolderSubmission(folder).check_ids(IDS)] == [("s000.jpg", "extra")]


# -- 5. scores files as spreadsheets write them --------------------------------------------------------------

def test_scores_with_bom_crlf_and_whitespace_read_exactly(tmp_path, shard):
    text = "sample_id , score\r\n" + "".join(f"  {k} ,\t{v} \r\n" for k, v in SCORES.items()) + "\r\n"
    folder = build(tmp_path / "csv", {}, scores=None)
    (folder / "scores.csv").write_bytes(text.encode("utf-8-sig"))
    with open(folder / "scores.csv", encoding="utf-8", newline="") as fh:  # the naive read: a BOM in the header
        assert fh.readline().startswith("\ufeffsample_id")
    as_json = build(tmp_path / "json", {}, scores=None)
    (as_json / "scores.json").write_bytes(json.dumps({f" {k} ": v for k, v in SCORES.items()}).encode("utf-8-sig"))
    clean = evaluate(build(tmp_path / "clean", {}), shard, "strict")
    for sub in (folder, as_json):
        results = evaluate(sub, shard, "strict")
        assert results["failures"]["count"] == 0
        assert results["metrics"] == clean["metrics"]


def test_empty_score_is_a_problem_not_the_maps_maximum(tmp_path, shard):
    assert check_score(None) is None  # the bare check reads None as "no score given": the map's maximum
    scores = {k: ("" if k == "s003" else v) for k, v in SCORES.items()}
    folder = build(tmp_path / "sub", {}, scores=scores)
    found = failures(evaluate(folder, shard))
    assert found == {"s003": ("missing", "scores.csv line 5: the score is empty")}
    as_json = build(tmp_path / "json", {}, scores=None)
    (as_json / "scores.json").write_text(json.dumps({k: (None if k == "s003" else v) for k, v in SCORES.items()}))
    assert failures(evaluate(as_json, shard)) == {"s003": ("missing", "scores.json entry 4: the score is empty")}


def test_utf16_scores_file_is_a_clear_error(tmp_path, shard):
    folder = build(tmp_path / "sub", {}, scores=None)
    (folder / "scores.csv").write_bytes(("sample_id,score\n" + "s000,0.5\n").encode("utf-16"))
    with pytest.raises(FolderSubmissionError, match=r"scores\.csv: saved as UTF-16; save it as UTF-8"):
        FolderSubmission(folder)


# -- 6. map encodings -------------------------------------------------------------------------------------------

def test_accepted_map_encodings_read_as_their_values(tmp_path, shard):
    o = ORACLE
    files = {"s000.png": o["s000"] > 127, "s001.png": o["s001"].astype(np.uint16) * 257, "s002.npy": o["s002"],
             "s003.npy": o["s003"] > 127, "s004.npy": (o["s004"] / 255).astype(np.float16),
             "s005.npy": o["s005"] / 255.0, "s006.npy": o["s006"].astype(np.float32) / np.float32(255)}
    folder = build(tmp_path / "sub", files)
    with Image.open(folder / "maps" / "s000.png") as img:
        assert img.mode == "1"
    with Image.open(folder / "maps" / "s001.png") as img:
        assert img.mode == "I;16"
        assert np.asarray(img.convert("L")).max() == 255  # the naive 8-bit read clips: the map all but white
    sub = FolderSubmission(folder)
    for name, arr in files.items():
        _, pred = sub.prediction(Path(name).stem, (H, W))
        if name == "s001.png":  # 16-bit: value / 65535, the float32 nearest k * 257 / 65535 = k / 255
            np.testing.assert_array_equal(pred, o["s001"].astype(np.float32) / np.float32(255))
        else:
            assert pred.dtype == arr.dtype
            np.testing.assert_array_equal(pred, arr)
    # Bool data bytes other than 0/1 are read as True.
    odd = npy_bytes("|b1", (H, W), (o["s007"] > 127).astype(np.uint8).tobytes().replace(b"\1", b"\2"))
    (folder / "maps" / "s007.png").unlink()
    (folder / "maps" / "s007.npy").write_bytes(odd)
    _, pred = FolderSubmission(folder).prediction("s007", (H, W))
    np.testing.assert_array_equal(pred, o["s007"] > 127)
    assert evaluate(folder, shard, "strict")["failures"]["count"] == 0
    # A 16-bit PNG scores exactly like the float map of its values.
    sixteen = build(tmp_path / "sixteen", {f"{k}.png": v.astype(np.uint16) * 257 for k, v in o.items()})
    floats = build(tmp_path / "floats", {f"{k}.npy": v.astype(np.float32) / np.float32(255) for k, v in o.items()})
    assert evaluate(sixteen, shard, "strict")["metrics"] == evaluate(floats, shard, "strict")["metrics"]


def test_refused_map_encodings_are_named(tmp_path, shard):
    o = ORACLE
    rgb = o["s000"][..., None].repeat(3, 2)
    palette = Image.fromarray(o["s002"]).convert("P")
    folder = build(tmp_path / "sub", {
        "s000.png": rgb, "s001.png": np.dstack([o["s001"], np.full((H, W), 255, np.uint8)]),  # RGB, LA
        "s003.png": np.dstack([rgb, np.full((H, W), 255, np.uint8)]),  # RGBA
        "s004.npy": o["s004"].astype(np.int64), "s005.png": np.zeros((H, 20), np.uint8),
        "s006.npy": o["s006"].astype(np.uint16),
    })
    palette.save(folder / "maps" / "s002.png")
    with Image.open(folder / "maps" / "s001.png") as img:
        assert img.mode == "LA"
    found = assert_refused(folder, shard, tmp_path, {
        "s000": "wrong_shape", "s001": "wrong_shape", "s002": "wrong_dtype", "s003": "wrong_shape",
        "s004": "wrong_dtype", "s005": "wrong_shape", "s006": "wrong_dtype",
    }, {"s004": ".npy", "s006": ".npy"})
    assert "got RGB (8-bit)" in found["s000"][1]
    assert "grayscale + alpha" in found["s001"][1]
    assert "palette" in found["s002"][1]
    assert "RGBA" in found["s003"][1]
    assert "int64" in found["s004"][1] and "ambiguous" in found["s004"][1]
    assert "uint16" in found["s006"][1]
    # Another aspect ratio: the detector's rule and message, naming the file.
    with pytest.raises(PredictionProblem) as info:
        check_map(np.zeros((H, 20), np.uint8), (H, W))
    assert found["s005"][1] == f"maps/s005.png: {info.value.detail}"
