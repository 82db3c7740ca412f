"""A submission as a folder of predictions keyed by sample id::

    <dir>/scores.csv        header "sample_id,score"      (or scores.json: {"<id>": score, ...} or [{sample_id, score}])
    <dir>/maps/<id>.png     single-channel grayscale PNG, 255 (or 65535) = inpainted
    <dir>/maps/<id>.npy     H x W (or H x W x 1) array: float16/32/64 in [0, 1], uint8 0..255, or bool

Either part may be absent (no maps: image-level metrics only; no scores: the map's maximum). When a part is
present it must cover every sample. A folder is untrusted input, read so that it can neither hurt the scorer
(memory, hangs, reading outside the folder, running code) nor fool it (a map read as something it is not):

- Scores files are UTF-8, with or without a BOM (Excel writes one); CRLF line ends and whitespace around ids,
  scores and header names are fine. An empty score cell or a JSON null is a problem, never "no score" (which
  would silently score the map's maximum instead). A scores file that cannot be parsed at all (no header, not
  JSON, not UTF-8) stops the run with ``FolderSubmissionError``.
- PNG maps: grayscale only. 8-bit (mode L) and 1/2/4-bit are read as uint8 (PIL scales 2/4-bit to 0..255),
  1-bit as bool; 16-bit as value / 65535 in float32 (not clipped). RGB, palette and alpha PNGs are refused:
  which channel or colour means "inpainted" is a guess the harness does not make.
- .npy maps: uint8, bool, float16/32/64 in either byte order and either memory order; anything else is refused,
  object dtypes (pickles, which run code when loaded) first of all. Integer dtypes other than uint8 are refused
  rather than converted: an int array of 0/1 and one of 0/255 cannot be told apart, and either guess would score
  someone's map as nearly all-zero or all-one.
- Every map's size is checked from its header (PNG IHDR, .npy header) before any pixel is decoded or read:
  ``problems.check_map_shape`` (the rule a detector's in-memory map meets too: the pixel limit, then the aspect
  ratio). A .npy whose data are shorter than its header claims is refused before reading.
- Symlinks are never followed, wherever they point: a symlinked map, maps/ or scores file is refused (kind
  "symlink"), naming where it points and whether that is inside the folder. Refusing links that stay inside the
  folder too keeps one rule with no path arithmetic to get wrong (and no file scored twice under two names);
  copying the file in is always possible. Files are opened with O_NOFOLLOW relative to maps/ (opened with
  O_NOFOLLOW itself), so a link swapped in after the listing is refused as well. Anything that is not a regular
  file (a FIFO would block the run forever) is refused unopened.
- Files an OS or a person leaves beside the maps (README*, *.txt, *.md, .DS_Store, Thumbs.db, desktop.ini,
  macOS ``._*`` resource forks, other hidden files, sub-folders) are ignored with a note in ``notes``. Any other
  file that is not .png / .npy (a .jpg, a .tif) is an "extra" problem: it is most likely a map in a format that
  is not read, and should not pass unremarked.

Index problems (extra, duplicate ids, stray files) are found up front; everything about one map or score is a
problem of that sample, raised when it is read, so one bad file never loses the rest of the run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from inpaintbench.harness.problems import PredictionProblem, Problem, check_map, check_map_shape, check_score

MAP_SUFFIXES = (".png", ".npy")
SCORES_FILES = ("scores.csv", "scores.json")
SCORES_MAX_BYTES = 256 << 20  # ~5 M rows of "id,score": far above any split; refused before reading

# Left by operating systems or people, never maps: ignored with a note. Compared in lower case.
IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini"})
IGNORED_SUFFIXES = (".txt", ".md")
IGNORED_PREFIXES = ("readme", "license")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types (IHDR byte 25) that are not one grayscale channel, and why each is refused.
PNG_REFUSED_COLOUR = {2: "RGB", 3: "palette (mode P)", 4: "grayscale + alpha", 6: "RGBA"}
NPY_FLOAT_SIZES = (2, 4, 8)  # float16/32/64; float128 is platform-dependent and never needed for [0, 1]

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
               | getattr(os, "O_NONBLOCK", 0))  # O_NONBLOCK: opening a FIFO must not wait for a writer
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_DIRECTORY", 0)


class FolderSubmissionError(ValueError):
    pass


class _Refused:
    """A part of the folder that is never read (a symlink, a special file): the problem every use of it raises."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind, self.detail = kind, detail

    def problem(self) -> PredictionProblem:
        return PredictionProblem(self.kind, self.detail)


class FolderSubmission:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FolderSubmissionError(f"{self.root}: not a directory")
        self.problems: list[Problem] = []
        self.notes: list[str] = []  # ignored files, for the results; never a reason to refuse a run
        self._refused: dict[str, _Refused] = {}  # part ("score" / "map") -> why the whole part is unusable
        self._score_where: dict[str, str] = {}  # sample id -> "scores.csv line 7", for messages
        self.scores: dict[str, object] | None = self._read_scores()
        self.maps: dict[str, Path | _Refused] | None = self._index_maps()
        if self.scores is None and self.maps is None:
            raise FolderSubmissionError(f"{self.root}: neither scores.csv / scores.json nor a maps/ folder")

    @property
    def has_maps(self) -> bool:
        return self.maps is not None

    # -- opening files without following links --------------------------------------------------------------

    def _symlink_refusal(self, rel: str) -> _Refused:
        path = self.root / rel
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        # Only to say where it points (the link is refused either way); the literal link text is shown, not the
        # resolved path, so the message reveals nothing about this machine the submitter did not write.
        try:
            inside = path.resolve().is_relative_to(self.root.resolve())
            where = f"{'inside' if inside else 'outside'} the submission folder"
        except (OSError, RuntimeError):  # resolve() on a loop of links
            where = "a loop of links"
        return _Refused("symlink", f"{rel}: a symlink (to {target!r}, {where}); symlinks are never followed: put "
                                   "the file itself in the folder")

    def _open_file(self, rel: str) -> BinaryIO:
        """Open ``root/rel`` (``rel`` is "name" or "maps/name") for reading: no symlink followed at maps/ or at
        the file, nothing but a regular file opened. Raises PredictionProblem naming ``rel``."""
        parent, _, name = rel.rpartition("/")
        use_dir_fd = bool(parent) and os.open in os.supports_dir_fd
        dir_fd = None
        try:
            if use_dir_fd:
                dir_fd = self._open_os(parent, lambda: os.open(self.root / parent, _DIR_FLAGS))
                fd = self._open_os(rel, lambda: os.open(name, _OPEN_FLAGS, dir_fd=dir_fd))
            else:
                fd = self._open_os(rel, lambda: os.open(self.root / rel, _OPEN_FLAGS))
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise PredictionProblem("unreadable", f"{rel}: not a regular file ({_file_type(mode)})")
        return os.fdopen(fd, "rb")

    def _open_os(self, rel: str, opener) -> int:
        try:
            return opener()
        except OSError as exc:
            # O_NOFOLLOW fails on a symlink (ELOOP on Linux, EMLINK on BSD); lstat says whether that was why.
            if os.path.islink(self.root / rel):
                raise self._symlink_refusal(rel).problem() from None
            raise PredictionProblem("unreadable", f"{rel}: {exc.strerror or exc}") from None

    # -- scores ---------------------------------------------------------------------------------------------

    def _read_scores(self) -> dict[str, object] | None:
        present = [name for name in SCORES_FILES if os.path.lexists(self.root / name)]
        if len(present) == 2:
            raise FolderSubmissionError(f"{self.root}: both scores.csv and scores.json; keep one")
        if not present:
            return None
        name = present[0]
        try:
            with self._open_file(name) as fh:
                size = os.fstat(fh.fileno()).st_size
                if size > SCORES_MAX_BYTES:
                    raise PredictionProblem("too_large", f"{name}: {size:,} bytes, over the limit of "
                                                         f"{SCORES_MAX_BYTES:,}; not read")
                raw = fh.read()
        except PredictionProblem as exc:  # a symlink, a FIFO...: every sample's score is refused, naming why
            self._refused["score"] = _Refused(exc.kind, exc.detail)
            return {}
        text = _decode_utf8(raw, self.root / name)
        scores: dict[str, object] = {}
        if name == "scores.csv":
            self._parse_csv(text, scores)
        else:
            self._parse_json(text, scores)
        return scores

    def _parse_csv(self, text: str, scores: dict) -> None:
        path = self.root / "scores.csv"
        # newline="": the csv module handles \r\n itself (and quoted newlines); StringIO must not translate them.
        rows = csv.reader(io.StringIO(text, newline=""))
        header, line = None, 0
        for line, row in enumerate(rows, start=1):
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing one is common)
            if header is None:
                header = [cell.strip() for cell in row]
                if not {"sample_id", "score"} <= set(header):
                    raise FolderSubmissionError(f"{path}: needs a header with columns sample_id and score "
                                                f"(comma-separated), got {header}")
                id_col, score_col = header.index("sample_id"), header.index("score")
                continue
            sample_id = row[id_col].strip() if id_col < len(row) else ""
            value = row[score_col].strip() if score_col < len(row) else ""
            self._add_score(scores, sample_id, value or None, f"scores.csv line {line}")
        if header is None:
            raise FolderSubmissionError(f"{path}: empty (needs a header with columns sample_id and score)")

    def _parse_json(self, text: str, scores: dict) -> None:
        path = self.root / "scores.json"
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FolderSubmissionError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(raw, list):
            items = [(r.get("sample_id"), r.get("score")) for r in raw if isinstance(r, dict)]
            if len(items) != len(raw):
                raise FolderSubmissionError(f"{path}: a list must hold objects with sample_id and score")
        elif isinstance(raw, dict):
            items = list(raw.items())
        else:
            raise FolderSubmissionError(f"{path}: expected {{id: score}} or [{{sample_id, score}}]")
        for n, (sample_id, value) in enumerate(items):
            self._add_score(scores, str(sample_id).strip(), value, f"scores.json entry {n + 1}")

    def _add_score(self, scores: dict, sample_id: str, value, where: str) -> None:
        if sample_id in scores:
            self.problems.append(Problem(sample_id, "duplicate", f"score given twice ({where})"))
            return
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass  # check_score reports it
        scores[sample_id] = value
        self._score_where[sample_id] = where

    def _score(self, sample_id: str) -> float:
        where, value = self._score_where[sample_id], self.scores[sample_id]
        if value is None:  # check_score(None) means "no score given", which would score the map's maximum
            raise PredictionProblem("missing", f"{where}: the score is empty")
        try:
            return check_score(value)
        except PredictionProblem as exc:
            raise PredictionProblem(exc.kind, f"{where}: {exc.detail}") from None

    # -- maps -----------------------------------------------------------------------------------------------

    def _index_maps(self) -> dict[str, Path | _Refused] | None:
        folder = self.root / "maps"
        if folder.is_symlink():
            self._refused["map"] = self._symlink_refusal("maps")
            return {}
        if not folder.exists():
            return None
        if not folder.is_dir():
            self._refused["map"] = _Refused("unreadable", "maps: not a folder")
            return {}
        maps: dict[str, Path | _Refused] = {}
        names: dict[str, str] = {}  # sample id -> file name, for the duplicate message
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            rel, path = f"maps/{entry.name}", Path(entry.path)
            stem, suffix = path.stem, path.suffix.lower()
            if entry.is_symlink():  # before anything else: a link is refused whatever its name
                found: Path | _Refused = self._symlink_refusal(rel)
            else:
                reason = _ignorable(entry.name, entry.is_dir(follow_symlinks=False))
                if reason:
                    self.notes.append(f"{rel}: ignored ({reason})")
                    continue
                if suffix not in MAP_SUFFIXES:
                    self.problems.append(Problem(entry.name, "extra", f"{rel}: not a .png or .npy file"))
                    continue
                found = path
                if not entry.is_file(follow_symlinks=False):  # a FIFO, a socket: never opened
                    mode = entry.stat(follow_symlinks=False).st_mode
                    found = _Refused("unreadable", f"{rel}: not a regular file ({_file_type(mode)})")
            if stem in maps:
                self.problems.append(Problem(stem, "duplicate", f"two maps: {names[stem]} and {entry.name}"))
                continue
            maps[stem], names[stem] = found, entry.name
        return maps

    def check_ids(self, sample_ids: list[str]) -> list[Problem]:
        """Problems not tied to a dataset sample: extra ids, duplicates, stray files. (Missing ids are reported
        per sample, by ``prediction``.)"""
        wanted = set(sample_ids)
        problems = list(self.problems)
        for part, keys in (("score", self.scores), ("map", self.maps)):
            if keys is not None:
                problems += [
                    Problem(i, "extra", f"{part} for a sample not in the dataset")
                    for i in sorted(keys)
                    if i not in wanted
                ]
        return problems

    def prediction(self, sample_id: str, image_hw: tuple[int, int]) -> tuple[float | None, np.ndarray | None]:
        for refused in self._refused.values():
            raise refused.problem()
        missing = [
            part
            for part, keys in (("score", self.scores), ("map", self.maps))
            if keys is not None and sample_id not in keys
        ]
        if missing:
            raise PredictionProblem("missing", f"no {' and no '.join(missing)} for this sample")
        score = self._score(sample_id) if self.scores is not None else None
        pred = None
        if self.maps is not None:
            found = self.maps[sample_id]
            if isinstance(found, _Refused):
                raise found.problem()
            rel = f"maps/{found.name}"
            try:
                with self._open_file(rel) as fh:
                    arr = (
                        _read_npy(fh, rel, image_hw) if found.suffix.lower() == ".npy" else _read_png(fh, rel, image_hw)
                    )
                pred = check_map(arr, image_hw)
            except PredictionProblem as exc:
                detail = exc.detail if exc.detail.startswith(rel) else f"{rel}: {exc.detail}"
                raise PredictionProblem(exc.kind, detail) from None
        return score, pred


# -- readers (module level: pure functions of an open file) --------------------------------------------------

def _png_ihdr(fh: BinaryIO, rel: str) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from the first 33 bytes; nothing else is read."""
    head = fh.read(33)
    if len(head) < 33 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise PredictionProblem("unreadable", f"{rel}: not a PNG file (no PNG signature and IHDR header)")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    return width, height, depth, colour


def _read_png(fh: BinaryIO, rel: str, image_hw: tuple[int, int]) -> np.ndarray:
    width, height, depth, colour = _png_ihdr(fh, rel)
    # Size first, from the header: PIL's own bomb check would otherwise be what refuses a 400-megapixel map
    # (above its limit), or it would decode one just under it.
    check_map_shape((height, width), image_hw)
    if colour in PNG_REFUSED_COLOUR:
        kind = "wrong_dtype" if colour == 3 else "wrong_shape"
        raise PredictionProblem(kind, f"{rel}: PNG maps must be single-channel grayscale (8-, 16- or 1-bit), "
                                      f"got {PNG_REFUSED_COLOUR[colour]} ({depth}-bit)")
    fh.seek(0)
    try:
        with Image.open(fh, formats=["PNG"]) as img:
            if img.size != (width, height):
                raise PredictionProblem(
                    "unreadable", f"{rel}: PIL reads size {img.size}, the header says {(width, height)}"
                )
            img.load()
            if img.mode == "1":
                return np.asarray(img, dtype=bool)
            if img.mode == "L":
                return np.asarray(img)
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                # Both operands are exact in float32, so IEEE division gives the float32 nearest value/65535.
                return np.asarray(img).astype(np.float32) / np.float32(65535)
            raise PredictionProblem("wrong_dtype", f"{rel}: grayscale PNG read as mode {img.mode}, which is not "
                                                   "read (expected 1-, 2-, 4-, 8- or 16-bit grayscale)")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise PredictionProblem("unreadable", f"{rel}: {exc}") from None


def _read_npy(fh: BinaryIO, rel: str, image_hw: tuple[int, int]) -> np.ndarray:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran_order, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran_order, dtype = fmt.read_array_header_2_0(fh)
        else:  # 3.0 only adds UTF-8 field names, which a map never has
            raise PredictionProblem("unreadable", f"{rel}: .npy format version {version[0]}.{version[1]} "
                                                  "(numpy.save writes 1.0 or 2.0)")
    except (ValueError, EOFError, SyntaxError) as exc:
        raise PredictionProblem("unreadable", f"{rel}: not a valid .npy header ({exc})") from None
    # Everything below is decided from the header; the data are read last, and only as many bytes as it claims.
    if dtype.hasobject:
        raise PredictionProblem("wrong_dtype", f"{rel}: dtype {dtype} holds pickled Python objects, which are never "
                                               "loaded (unpickling runs code); save a numeric array")
    if dtype.names is not None or dtype.subdtype is not None:
        raise PredictionProblem("wrong_dtype", f"{rel}: structured dtype {dtype} (save a plain H x W array)")
    if not (dtype.kind == "b" or (dtype.kind == "u" and dtype.itemsize == 1)
            or (dtype.kind == "f" and dtype.itemsize in NPY_FLOAT_SIZES)):
        hint = (" (integer maps are ambiguous: 0/1 or 0/255? convert to uint8 0..255 or float in [0, 1])"
                if dtype.kind in "iu" else "")
        raise PredictionProblem("wrong_dtype", f"{rel}: dtype {dtype.name} ({dtype.str}) is not read; maps must be "
                                               f"uint8, bool or float16/32/64{hint}")
    check_map_shape(shape, image_hw)
    count = int(np.prod(shape))
    nbytes = count * dtype.itemsize
    available = os.fstat(fh.fileno()).st_size - fh.tell()
    if available < nbytes:
        raise PredictionProblem("unreadable", f"{rel}: truncated: the header claims shape {tuple(shape)} of "
                                              f"{dtype.str} ({nbytes:,} bytes) but {max(available, 0):,} follow it")
    # Bool data are read as bytes and compared with 0: numpy assumes every bool byte is 0 or 1 and a file can
    # hold any byte; this way the map holds only canonical values, whatever the file says.
    flat = np.empty(count, np.uint8 if dtype.kind == "b" else dtype)
    if fh.readinto(memoryview(flat.view(np.uint8))) != nbytes:
        raise PredictionProblem("unreadable", f"{rel}: truncated while reading ({nbytes:,} bytes expected)")
    if dtype.kind == "b":
        flat = flat != 0
    arr = flat.reshape(shape[::-1]).T if fortran_order else flat.reshape(shape)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


def _decode_utf8(raw: bytes, path: Path) -> str:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FolderSubmissionError(f"{path}: saved as UTF-16; save it as UTF-8 (Excel: 'CSV UTF-8')")
    try:
        return raw.decode("utf-8-sig")  # utf-8-sig: a leading BOM (Excel's) is dropped, its absence is fine
    except UnicodeDecodeError as exc:
        raise FolderSubmissionError(f"{path}: not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None


def _ignorable(name: str, is_dir: bool) -> str | None:
    """Why a maps/ entry is not a map but harmless to skip, or None."""
    lower = name.lower()
    if is_dir:
        return "a sub-folder; maps are read from maps/ itself"
    if name.startswith("._"):
        return "a macOS resource fork"
    if lower in IGNORED_NAMES:
        return "an operating-system file"
    if name.startswith("."):
        return "a hidden file"
    if lower.endswith(IGNORED_SUFFIXES) or lower.startswith(IGNORED_PREFIXES):
        return "a text file"
    return None


def _file_type(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return "not a regular file"

