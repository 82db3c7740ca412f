"""The human test's answers, one SQLite row per answer.

SQLite in WAL mode lets the Space's worker threads write while others read the running accuracy. Each call opens
its own short-lived connection: sqlite3 connections must not be shared across threads, and an answer is committed
before the person sees the next image, so a crash never loses an answer already given.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
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
    created_at TEXT NOT NULL               -- UTC, ISO 8601
);
CREATE INDEX IF NOT EXISTS answers_session ON answers(session_id);
"""


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


class HumanTestStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SCHEMA)
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
            datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        )
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT INTO answers (session_id, sample_id, shown, backend, answer, truth, click_x, click_y, hit,"
                " data_source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

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

    def accuracy_by_backend(self, data_source: str | None = None) -> pd.DataFrame:
        """Everyone's answers so far, per backend of the shown image (pristine images as backend "none")."""
        where, params = ("WHERE data_source = ?", (data_source,)) if data_source else ("", ())
        with closing(self._connect()) as conn:
            return pd.read_sql_query(
                "SELECT backend, COUNT(*) AS answers, ROUND(AVG(answer = truth), 3) AS accuracy,"
                " SUM(truth = 'inpainted' AND click_x IS NOT NULL) AS clicks_on_edits,"
                " ROUND(AVG(CASE WHEN truth = 'inpainted' AND click_x IS NOT NULL THEN hit END), 3)"
                " AS click_hit_rate"
                f" FROM answers {where} GROUP BY backend ORDER BY backend",
                conn,
                params=params,
            )
