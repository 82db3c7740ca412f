"""The human test's answers, one SQLite row per answer.

SQLite in WAL mode lets the Space's worker threads write while others read the running accuracy. Each call opens
its own short-lived connection: sqlite3 connections must not be shared across threads, and an answer is committed
before the person sees the next image, so a crash never loses an answer already given. A unique index on
(session_id, photo) makes "one answer per photo per session" hold even for two requests racing each other.

Accuracies come with 95% Wilson score intervals: unlike the normal approximation they stay inside [0, 1] and keep
close to their nominal coverage at the few dozen answers a backend gets at first.
"""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,              -- anonymous: a uuid4 made per browser session, nothing else
    sample_id TEXT NOT NULL,
    shown TEXT NOT NULL,                   -- which column was shown: "image" or "original"
    backend TEXT NOT NULL,                 -- backend that made the shown image; "none" if it is pristine
    answer TEXT NOT NULL CHECK (answer IN ('pristine', 'inpainted')),
    truth TEXT NOT NULL CHECK (truth IN ('pristine', 'inpainted')),
    click_x INTEGER,                       -- image pixel coordinates of the "where?" click; NULL if none
    click_y INTEGER,
    hit INTEGER,                           -- 1 if the click is inside the inpainting mask, 0 if not, NULL if none
    data_source TEXT NOT NULL,             -- which dataset / revision the sample came from
    created_at TEXT NOT NULL,              -- UTC, ISO 8601
    photo TEXT                             -- source/source_image_id of the shown photo (NULL in older rows)
);
CREATE INDEX IF NOT EXISTS answers_session ON answers(session_id);
"""
ONE_ANSWER_PER_PHOTO = "CREATE UNIQUE INDEX IF NOT EXISTS answers_one_per_photo ON answers(session_id, photo)"
Z_95 = 1.959963984540054  # two-sided 95% normal quantile


class DuplicateAnswer(ValueError):
    """This session already answered this photo: the second answer is not stored."""


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval of the proportion correct / total; (0, 1) when there is nothing to go on."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


def with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Adds accuracy and its 95% Wilson bounds to a table with ``answers`` and ``correct`` columns."""
    table = table.copy()
    bounds = [wilson_interval(int(k), int(n)) for k, n in zip(table["correct"], table["answers"], strict=False)]
    table["accuracy"] = [
        round(int(k) / int(n), 3) if n else float("nan")
        for k, n in zip(table["correct"], table["answers"], strict=False)
    ]
    table["ci95_low"] = [round(lo, 3) for lo, _ in bounds]
    table["ci95_high"] = [round(hi, 3) for _, hi in bounds]
    return table


@dataclass(frozen=True)
class Answer:
    session_id: str
    sample_id: str
    shown: str
    backend: str
    answer: str
    truth: str
    click_x: int | None
    click_y: int | None
    hit: bool | None
    data_source: str
    photo: str | None = None


class HumanTestStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SCHEMA)
                # A database written before photos were tracked gains the column; its old rows keep NULL there,
                # which the unique index ignores.
                if "photo" not in {row[1] for row in conn.execute("PRAGMA table_info(answers)")}:
                    conn.execute("ALTER TABLE answers ADD COLUMN photo TEXT")
                conn.execute(ONE_ANSWER_PER_PHOTO)
                conn.commit()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path}: not a usable SQLite database for the human test ({exc})") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10.0)

    def record(self, answer: Answer) -> None:
        row = (
            answer.session_id,
            answer.sample_id,
            answer.shown,
            answer.backend,
            answer.answer,
            answer.truth,
            answer.click_x,
            answer.click_y,
            None if answer.hit is None else int(answer.hit),
            answer.data_source,
            datetime.now(UTC).isoformat(timespec="milliseconds"),
            answer.photo,
        )
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute(
                    "INSERT INTO answers (session_id, sample_id, shown, backend, answer, truth, click_x, click_y,"
                    " hit, data_source, created_at, photo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.IntegrityError:
            raise DuplicateAnswer("This image was already answered in this session; one answer per image.") from None

    def answers(self, session_id: str | None = None) -> pd.DataFrame:
        query, params = "SELECT * FROM answers", ()
        if session_id is not None:
            query, params = query + " WHERE session_id = ?", (session_id,)
        with closing(self._connect()) as conn:
            return pd.read_sql_query(query + " ORDER BY id", conn, params=params)

    def session_score(self, session_id: str) -> dict[str, int]:
        with closing(self._connect()) as conn:
            answered, correct, located, hits = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(answer = truth), 0),"
                " COALESCE(SUM(truth = 'inpainted' AND click_x IS NOT NULL), 0), COALESCE(SUM(hit = 1), 0)"
                " FROM answers WHERE session_id = ?",
                (session_id,),
            ).fetchone()
        return {"answered": answered, "correct": correct, "located": located, "hits": hits}

    def accuracy_by_backend(self, data_source: str | None = None, session_id: str | None = None) -> pd.DataFrame:
        """Answers so far (everyone's, or one session's), per backend of the shown image (pristine images as backend
        "none"), with counts and 95% Wilson intervals."""
        clauses = [(c, v) for c, v in (("data_source = ?", data_source), ("session_id = ?", session_id)) if v]
        where = ("WHERE " + " AND ".join(c for c, _ in clauses)) if clauses else ""
        with closing(self._connect()) as conn:
            table = pd.read_sql_query(
                "SELECT backend, COUNT(*) AS answers, SUM(answer = truth) AS correct,"
                " SUM(truth = 'inpainted' AND click_x IS NOT NULL) AS clicks_on_edits,"
                " ROUND(AVG(CASE WHEN truth = 'inpainted' AND click_x IS NOT NULL THEN hit END), 3)"
                " AS click_hit_rate"
                f" FROM answers {where} GROUP BY backend ORDER BY backend",
                conn,
                params=tuple(v for _, v in clauses),
            )
        table = with_intervals(table)
        return table[["backend", "answers", "correct", "accuracy", "ci95_low", "ci95_high", "clicks_on_edits",
                      "click_hit_rate"]]

    def overall(self, data_source: str | None = None, session_id: str | None = None) -> dict[str, float]:
        """Accuracy over every backend: answers, correct, accuracy and its 95% Wilson bounds."""
        table = self.accuracy_by_backend(data_source, session_id)
        answers, correct = int(table["answers"].sum()), int(table["correct"].sum())
        low, high = wilson_interval(correct, answers)
        accuracy = correct / answers if answers else float("nan")
        return {"answers": answers, "correct": correct, "accuracy": accuracy, "ci95_low": low, "ci95_high": high}
