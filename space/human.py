"""The human test: "real or inpainted?", then "where?", one stored answer per image, a fixed number of images.

What keeps it a measure of people rather than of scripts:
- its photos come from a pool that Browse never shows (space/human_pool.py), so no crawl of the Space has them;
- each served image carries a random PNG text chunk, so its bytes, and Gradio's content-hash URL, differ every time
  it is served while its pixels stay the same (a text chunk is metadata: what a person sees is untouched);
- the question (truth, sample, backend) lives in ``gr.State``, which Gradio keeps on the server: the client only
  gets the image, the item number and the text;
- an answer names the item it answers; a second answer to an item is refused (and the database refuses it too),
  and answers are rate-limited per session and per client address;
- a session sees each photo at most once (real or one of its edits, never both) and ends after N images.

Every step is a pure function of a small state dict, so clicks in the UI and calls from ``gradio_client`` run the
same code. The draw is a function of (seed, session id): reproducible for a seed, different for each person.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import pandas as pd

from inpaintbench.space.config import SpaceConfig
from inpaintbench.space.data import SampleStore
from inpaintbench.space.human_pool import INPAINTED, PRISTINE, Photo, partition, photos_of
from inpaintbench.space.human_store import Answer, DuplicateAnswer, HumanTestStore
from inpaintbench.space.served_images import ServedImages

ASK_REAL_OR_NOT = "### Is this photo real, or was part of it inpainted by an AI model?"
ASK_WHERE = "### Where? Click on the part of the image you think was inpainted (or skip this step)."
DONE = "### That was the last image: thank you."
ACCURACY_HEADERS = {
    "clicks_on_edits": "edits clicked",
    "click_hit_rate": "click hit rate",
    "ci95_low": "95% low",
    "ci95_high": "95% high",
}
NO_POOL = (
    "The human test has no photos to show: none of this data's photos are set aside for it (too few photos, or "
    "a test share of 0), and showing Browse's photos would let anyone look the answers up."
)
# The public table is read from SQLite at most once a second: every answer shows it, and 20 testers answering at
# once would otherwise run 20 GROUP BYs per second for a table nobody can read that fast.
TABLE_MAX_AGE_S = 1.0


class Refused(ValueError):
    """An answer the test does not accept (duplicate, wrong item, over the rate limit, test over); not stored."""


@dataclass(frozen=True)
class Limit:
    max_answers: int
    window_s: float

    def __post_init__(self) -> None:
        if self.max_answers < 1 or not self.window_s > 0:
            raise ValueError(f"a rate limit needs at least 1 answer per positive window, got {self}")


class SlidingWindow:
    """At most ``limit.max_answers`` events per key in any ``limit.window_s`` seconds."""

    def __init__(self, limit: Limit, clock=time.monotonic) -> None:
        self.limit, self.clock = limit, clock
        self.events: dict[str, deque[float]] = {}

    def wait_s(self, key: str) -> float:
        """0 if one more event is allowed now, else the seconds until it is."""
        now = self.clock()
        events = self.events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - self.limit.window_s:
            events.popleft()
        if not events:
            del self.events[key]  # keys of past visitors must not pile up
            return 0.0
        return 0.0 if len(events) < self.limit.max_answers else events[0] + self.limit.window_s - now

    def add(self, key: str) -> None:
        self.events.setdefault(key, deque()).append(self.clock())


class AnswerLimits:
    """The per-session and per-client rate limits; an answer one of them refuses uses up neither."""

    def __init__(self, session: Limit, client: Limit, clock=time.monotonic) -> None:
        self.session, self.client = SlidingWindow(session, clock), SlidingWindow(client, clock)
        self.lock = threading.Lock()

    def take(self, session_id: str, client: str | None) -> None:
        """Count one answer, or refuse it (``Refused``) when the session's or the address's window is full."""
        windows = [(self.session, session_id, "this session")]
        if client is not None:
            windows.append((self.client, client, "your address"))
        with self.lock:
            for window, key, who in windows:  # every window is checked before any counts the answer
                wait = window.wait_s(key)
                if wait > 0:
                    raise Refused(
                        f"Too many answers from {who}: at most {window.limit.max_answers} every "
                        f"{window.limit.window_s:g} s. Try again in {wait:.0f} s."
                    )
            for window, key, _ in windows:
                window.add(key)


def new_state() -> dict[str, Any]:
    return {"session_id": str(uuid.uuid4()), "step": 0, "question": None, "answer": None, "done": False}


class HumanTest:
    def __init__(
        self,
        pool: SampleStore | None,
        answers: HumanTestStore,
        seed: int,
        data_source: str,
        length: int = 20,
        limits: AnswerLimits | None = None,
        client_ip_header: str | None = None,
    ) -> None:
        if int(length) < 1:
            raise ValueError(f"human_test_length (INPAINTBENCH_HUMAN_TEST_LENGTH) must be at least 1, got {length!r}")
        self.pool, self.answers, self.seed, self.data_source = pool, answers, seed, data_source
        self.photos: list[Photo] = photos_of(pool)
        self.length = min(int(length), len(self.photos))  # each photo at most once per session
        self.limits = limits or AnswerLimits(Limit(30, 60.0), Limit(600, 3600.0))
        self.client_ip_header = client_ip_header  # read by the tab: where the client address comes from
        self.served = ServedImages(pool) if pool is not None and len(pool) else None
        self._table_cache: tuple[float, pd.DataFrame] | None = None
        self._table_lock = threading.Lock()

    @classmethod
    def over_store(cls, store: SampleStore | None, config: SpaceConfig) -> tuple[SampleStore | None, HumanTest]:
        """(what every other tab may show, the human test over the rest): ``store`` cut by photo (human_pool)."""
        split = partition(store, config.human_test_share, salt=config.seed)
        limits = AnswerLimits(
            Limit(config.human_session_max_answers, config.human_session_window_s),
            Limit(config.human_client_max_answers, config.human_client_window_s),
        )
        test = cls(
            split.test,
            HumanTestStore(config.db_path),
            seed=config.seed,
            data_source=store.description if store is not None else "",
            length=config.human_test_length,
            limits=limits,
            client_ip_header=config.human_client_ip_header,
        )
        return split.browse, test

    # --- the draw ----------------------------------------------------------------------------------------------
    def _order(self, session_id: str) -> list[int]:
        # Without replacement: a permutation of the photos, cut at the test length.
        return random.Random(f"{self.seed}:{session_id}:order").sample(range(len(self.photos)), self.length)

    def _question(self, session_id: str, step: int) -> dict[str, Any]:
        photo = self.photos[self._order(session_id)[step]]
        rng = random.Random(f"{self.seed}:{session_id}:{step}")
        if photo.edits and rng.random() < 0.5:
            position, sample_id, backend = rng.choice(photo.edits)
            shown, truth = "image", INPAINTED
        else:
            (position, shown, sample_id), truth, backend = photo.real, PRISTINE, "none"
        return {
            "position": position,
            "sample_id": sample_id,
            "shown": shown,
            "truth": truth,
            "backend": backend,
            "photo": photo.key,
        }

    def _size(self, question: dict[str, Any]) -> tuple[int, int]:
        entry = self.pool.index.iloc[question["position"]]
        return int(entry["width"]), int(entry["height"])

    # --- what the UI calls -------------------------------------------------------------------------------------
    def start(self, state: dict[str, Any] | None) -> tuple:
        state = state if state and state.get("session_id") else new_state()
        if not self.photos:
            return self._view(state, NO_POOL, prompt="")
        if state["done"]:
            return self._view(state, "")
        if state["question"] is None:
            state = {**state, "question": self._question(state["session_id"], state["step"])}
        return self._view(state, "", ASK_WHERE if state["answer"] == INPAINTED else ASK_REAL_OR_NOT)

    def answer(self, choice: str, item: Any, state: dict[str, Any] | None, client: str | None = None) -> tuple:
        choice = str(choice).strip().lower()
        choice = {"real": PRISTINE, "fake": INPAINTED}.get(choice, choice)
        if choice not in (PRISTINE, INPAINTED):
            raise ValueError(f"answer must be 'real' or 'inpainted', got {choice!r}")
        if not state or state.get("question") is None:
            self._check_item(state, item)
            return self.start(state)
        self._check_item(state, item)
        if state["answer"] == INPAINTED:  # already waiting for the click: the decision stands
            return self._view(state, "", ASK_WHERE)
        if choice == PRISTINE:
            return self._record(state, PRISTINE, None, client)
        return self._view({**state, "answer": INPAINTED}, "", ASK_WHERE)

    def locate(self, x: Any, y: Any, item: Any, state: dict[str, Any] | None, client: str | None = None) -> tuple:
        """The "where?" click at image pixel (x, y); ignored unless the person just said "inpainted"."""
        self._check_item(state, item)
        if not state or state.get("question") is None:
            return self.start(state)
        if state["answer"] != INPAINTED:
            return self._view(state, "First answer: real or inpainted?", ASK_REAL_OR_NOT)
        width, height = self._size(state["question"])
        try:
            click = (int(x), int(y))
        except (TypeError, ValueError):
            click = None
        if click is None or not (0 <= click[0] < width and 0 <= click[1] < height):
            # Not stored: an answer's click must be a pixel of the image that was shown.
            return self._view(state, f"That click ({x}, {y}) is not on the image: click on the photo.", ASK_WHERE)
        return self._record(state, INPAINTED, click, client)

    def skip_locate(self, item: Any, state: dict[str, Any] | None, client: str | None = None) -> tuple:
        self._check_item(state, item)
        if not state or state.get("question") is None or state["answer"] != INPAINTED:
            return self.start(state)
        return self._record(state, INPAINTED, None, client)

    # --- internals ---------------------------------------------------------------------------------------------
    def _check_item(self, state: dict[str, Any] | None, item: Any) -> None:
        """An answer must name the image it answers: a late double click or a replay must not answer the next."""
        if not self.photos:
            raise Refused(NO_POOL)
        current = (state or {}).get("step", 0) + 1
        if state and state.get("done"):
            raise Refused(f"This test is over: all {self.length} images are answered. Reload the page for a new one.")
        try:
            wanted = int(item)
        except (TypeError, ValueError):
            raise Refused(f"An answer must name the image it answers (item), got {item!r}.") from None
        if wanted < current:
            raise Refused(f"Image {wanted} is already answered: one answer per image.")
        if wanted > current:
            raise Refused(f"There is no image {wanted} yet: the current image is {current}.")

    def _record(self, state: dict[str, Any], choice: str, click: tuple[int, int] | None, client: str | None) -> tuple:
        question = state["question"]
        sample = self.pool.index.iloc[question["position"]].to_dict()  # metadata only: no image decoded
        hit = None
        if click is not None:
            mask = self.served.mask(question["position"]) if question["shown"] == "image" else None
            x, y = click
            inside = mask is not None and 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and bool(mask[y, x])
            hit = bool(inside)
        self.limits.take(state["session_id"], client)
        try:
            self.answers.record(
                Answer(
                    session_id=state["session_id"],
                    sample_id=question["sample_id"],
                    shown=question["shown"],
                    backend=question["backend"],
                    answer=choice,
                    truth=question["truth"],
                    click_x=None if click is None else click[0],
                    click_y=None if click is None else click[1],
                    hit=hit,
                    data_source=self.data_source,
                    photo=question["photo"],
                )
            )
        except DuplicateAnswer as exc:
            raise Refused(str(exc)) from None
        feedback = _feedback(question, sample, choice, hit)
        reveal = self.served.reveal_file(question["position"], question["shown"], question["truth"] == INPAINTED)
        step = state["step"] + 1
        if step >= self.length:
            state = {**state, "step": step, "question": None, "answer": None, "done": True}
        else:
            state = {**state, "step": step, "question": self._question(state["session_id"], step), "answer": None}
        return self._view(state, feedback, ASK_REAL_OR_NOT, reveal)

    def _view(self, state, feedback, prompt=ASK_REAL_OR_NOT, reveal=None) -> tuple:
        """(state, image, item number, prompt, progress, feedback, last image revealed, score, accuracy table)."""
        question = state.get("question")
        image = self.served.question_file(question["position"], question["shown"]) if question is not None else None
        item = state["step"] + 1 if question is not None else None
        if state["done"]:
            prompt, progress = DONE, f"**Done:** {self.length} of {self.length} images answered."
            score = self.summary(state["session_id"])
        else:
            progress = f"**Image {state['step'] + 1} of {self.length}**" if self.photos else ""
            score = self._running_score(state["session_id"])
        return state, image, item, prompt, progress, feedback, reveal, score, self.public_table()

    def _running_score(self, session_id: str) -> str:
        score = self.answers.session_score(session_id)
        if not score["answered"]:
            return "**Your score:** no answers yet."
        share = score["correct"] / score["answered"]
        text = f"**Your score:** {score['correct']} of {score['answered']} right ({share:.0%})"
        if score["located"]:
            text += f" · you found the edited region {score['hits']} of {score['located']} times"
        return text

    def public_table(self, max_age_s: float = TABLE_MAX_AGE_S) -> pd.DataFrame:
        """Everyone's accuracy per backend; read from SQLite at most once per ``max_age_s`` (every answer shows it)."""
        with self._table_lock:
            cached = self._table_cache
            if cached is not None and time.monotonic() - cached[0] < max_age_s:
                return cached[1].copy()
        table = self._public_table()
        with self._table_lock:
            self._table_cache = (time.monotonic(), table)
        return table.copy()

    def _public_table(self) -> pd.DataFrame:
        table = self.answers.accuracy_by_backend(self.data_source)
        table["backend"] = table["backend"].replace({"none": "none (real photos)"})
        return table.rename(columns=ACCURACY_HEADERS)

    def summary(self, session_id: str) -> str:
        """The end summary: this visitor's accuracy beside everyone's, overall and per backend, with 95% Wilson
        intervals and counts."""
        mine = self.answers.overall(self.data_source, session_id)
        everyone = self.answers.overall(self.data_source)
        lines = [
            "### Your result",
            f"**You:** {_share(mine)} · **everyone so far:** {_share(everyone)}",
            "",
            "| backend | you | everyone |",
            "|---|---|---|",
        ]
        theirs = self.answers.accuracy_by_backend(self.data_source).set_index("backend")
        for row in self.answers.accuracy_by_backend(self.data_source, session_id).itertuples():
            other = theirs.loc[row.backend]
            name = "none (real photos)" if row.backend == "none" else row.backend
            lines.append(f"| {name} | {_share(row._asdict())} | {_share(other.to_dict())} |")
        score = self.answers.session_score(session_id)
        if score["located"]:
            lines.append(f"\nYou found the edited region {score['hits']} of {score['located']} times you clicked.")
        lines.append("\n*Intervals: 95% Wilson score intervals of the share right.*")
        return "\n".join(lines)


def _share(stats: dict[str, Any]) -> str:
    return (
        f"{int(stats['correct'])} of {int(stats['answers'])} right ({stats['accuracy']:.0%}, "
        f"95% interval {stats['ci95_low']:.0%}–{stats['ci95_high']:.0%})"
    )


def _feedback(question: dict[str, Any], sample: dict[str, Any], choice: str, hit: bool | None) -> str:
    right = choice == question["truth"]
    verdict = "**Right**" if right else "**Wrong**"
    if question["truth"] == PRISTINE:
        text = f"{verdict}: that photo was real."
    else:
        what = sample.get("action", "")
        edit = f"{sample.get('category', '')}" + (f" → {sample['replacement']}" if sample.get("replacement") else "")
        text = f"{verdict}: that photo was inpainted by **{question['backend']}** ({what} {edit.strip()})."
        if hit is not None:
            text += " Your click was **inside** the edited region." if hit else " Your click missed the edited region."
    return text
