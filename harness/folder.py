"""A submission as a folder of predictions keyed by sample id::

    <dir>/scores.csv        header "sample_id,score"      (or scores.json: {"<id>": score, ...})
    <dir>/maps/<id>.png     8-bit single-channel, 255 = inpainted (or <id>.npy: H x W float in [0, 1] or uint8)

Either part may be absent (no maps: image-level metrics only; no scores: the map's maximum). When a part is
present it must cover every sample. Index problems (missing, extra, duplicate ids, unreadable files) are found
up front; a map's own problems (shape, NaN, range) when it is read.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from inpaintbench.harness.problems import PredictionProblem, Problem, check_map, check_score

MAP_SUFFIXES = (".png", ".npy")


class FolderSubmissionError(ValueError):
    pass


class FolderSubmission:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FolderSubmissionError(f"{self.root}: not a directory")
        self.problems: list[Problem] = []
        self.scores: dict[str, object] | None = self._read_scores()
        self.maps: dict[str, Path] | None = self._index_maps()
        if self.scores is None and self.maps is None:
            raise FolderSubmissionError(f"{self.root}: neither scores.csv / scores.json nor a maps/ folder")

    @property
    def has_maps(self) -> bool:
        return self.maps is not None

    @property
    def all_png(self) -> bool:
        return bool(self.maps) and all(p.suffix == ".png" for p in self.maps.values())

    def _read_scores(self) -> dict[str, object] | None:
        csv_path, json_path = self.root / "scores.csv", self.root / "scores.json"
        if csv_path.is_file() and json_path.is_file():
            raise FolderSubmissionError(f"{self.root}: both scores.csv and scores.json; keep one")
        scores: dict[str, object] = {}
        if csv_path.is_file():
            with open(csv_path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if reader.fieldnames is None or not {"sample_id", "score"} <= set(reader.fieldnames):
                    raise FolderSubmissionError(f"{csv_path}: needs a header with columns sample_id and score, "
                                                f"got {reader.fieldnames}")
                for line, row in enumerate(reader, start=2):
                    self._add_score(scores, row["sample_id"], row["score"], f"{csv_path.name} line {line}")
            return scores
        if json_path.is_file():
            try:
                raw = json.loads(json_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise FolderSubmissionError(f"{json_path}: not valid JSON ({exc})") from None
            if isinstance(raw, list):
                items = [(r.get("sample_id"), r.get("score")) for r in raw if isinstance(r, dict)]
                if len(items) != len(raw):
                    raise FolderSubmissionError(f"{json_path}: a list must hold objects with sample_id and score")
            elif isinstance(raw, dict):
                items = list(raw.items())
            else:
                raise FolderSubmissionError(f"{json_path}: expected {{id: score}} or [{{sample_id, score}}]")
            for sample_id, value in items:
                self._add_score(scores, str(sample_id), value, json_path.name)
            return scores
        return None

    def _add_score(self, scores: dict, sample_id: str, value, where: str) -> None:
        if sample_id in scores:
            self.problems.append(Problem(sample_id, "duplicate", f"score given twice ({where})"))
            return
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = value  # check_score reports it
        scores[sample_id] = value

    def _index_maps(self) -> dict[str, Path] | None:
        folder = self.root / "maps"
        if not folder.is_dir():
            return None
        maps: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in MAP_SUFFIXES or not path.is_file():
                self.problems.append(Problem(path.name, "extra", f"maps/{path.name}: not a .png or .npy file"))
                continue
            if path.stem in maps:
                self.problems.append(Problem(path.stem, "duplicate", f"two maps: {maps[path.stem].name} and {path.name}"))
                continue
            maps[path.stem] = path
        return maps

    def check_ids(self, sample_ids: list[str]) -> list[Problem]:
        """Problems not tied to a dataset sample: extra ids, duplicates, stray files. (Missing ids are reported
        per sample, by ``prediction``.)"""
        wanted = set(sample_ids)
        problems = list(self.problems)
        for part, keys in (("score", self.scores), ("map", self.maps)):
            if keys is not None:
                problems += [Problem(i, "extra", f"{part} for a sample not in the dataset") for i in sorted(keys) if i not in wanted]
        return problems

    def prediction(self, sample_id: str, image_hw: tuple[int, int]) -> tuple[float | None, np.ndarray | None]:
        missing = [part for part, keys in (("score", self.scores), ("map", self.maps)) if keys is not None and sample_id not in keys]
        if missing:
            raise PredictionProblem("missing", f"no {' and no '.join(missing)} for this sample")
        score = check_score(self.scores[sample_id]) if self.scores is not None else None
        pred = None
        if self.maps is not None:
            pred = check_map(self._read_map(self.maps[sample_id]), image_hw)
        return score, pred

    @staticmethod
    def _read_map(path: Path) -> np.ndarray:
        if path.suffix.lower() == ".npy":
            try:
                return np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise PredictionProblem("unreadable", f"maps/{path.name}: {exc}") from None
        try:
            with Image.open(path) as img:
                img.load()
                if img.mode == "1":
                    return np.asarray(img, dtype=bool)
                if img.mode != "L":
                    raise PredictionProblem("wrong_shape", f"maps/{path.name}: PNG maps must be 8-bit single-channel "
                                            f"(mode L), got mode {img.mode}")
                return np.asarray(img)
        except (OSError, UnidentifiedImageError) as exc:
            raise PredictionProblem("unreadable", f"maps/{path.name}: {exc}") from None
