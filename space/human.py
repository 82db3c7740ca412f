"""The human test: "real or inpainted?", then "where?", one stored answer per image.

Everything a person does is a pure step on a small state dict (kept per browser session by ``gr.State``), so the
same code serves clicks in the UI and calls from ``gradio_client``. The image sequence is a function of
(seed, session id, step): reproducible for a seed, different for each person.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from inpaintbench.space.data import SampleStore
from inpaintbench.space.human_store import Answer, HumanTestStore
from inpaintbench.space.overlays import mask_overlay

PRISTINE, INPAINTED = "pristine", "inpainted"
ASK_REAL_OR_NOT = "### Is this photo real, or was part of it inpainted by an AI model?"
ACCURACY_HEADERS = {"clicks_on_edits": "edits clicked", "click_hit_rate": "click hit rate"}
ASK_WHERE = "### Where? Click on the part of the image you think was inpainted (or skip this step)."


def new_state() -> dict[str, Any]:
    return {"session_id": str(uuid.uuid4()), "step": 0, "question": None, "answer": None, "served": []}


class HumanTest:
    def __init__(self, store: SampleStore | None, answers: HumanTestStore, seed: int, data_source: str) -> None:
        self.store, self.answers, self.seed, self.data_source = store, answers, seed, data_source
        index = store.index if store is not None else pd.DataFrame(columns=["label"])
        ids = index["sample_id"].astype(str).tolist() if len(index) else []
        inpainted = [int(p) for p in index.index[index["label"] == INPAINTED]]
        pristine = [(int(p), "image", ids[p]) for p in index.index[index["label"] == PRISTINE]]
        # A release without pristine rows still has real photos: the originals of its inpainted samples.
        self.pool = {
            PRISTINE: pristine or [(p, "original", ids[p]) for p in inpainted],
            INPAINTED: [(p, "image", ids[p]) for p in inpainted],
        }

    # --- questions -------------------------------------------------------------------------------------------
    def _pick(self, state: dict[str, Any]) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{state['session_id']}:{state['step']}")
        truths = [t for t in (PRISTINE, INPAINTED) if self.pool[t]]
        truth = rng.choice(truths)
        served = {tuple(s) for s in state["served"]}
        fresh = [c for c in self.pool[truth] if (c[2], c[1]) not in served]
        position, shown, sample_id = rng.choice(fresh or self.pool[truth])
        entry = self.store.index.loc[position]
        return {
            "position": position,
            "sample_id": sample_id,
            "shown": shown,
            "truth": truth,
            "backend": str(entry["backend"]) if truth == INPAINTED else "none",
        }

    def _image(self, question: dict[str, Any]) -> Image.Image:
        return self.store.sample(question["position"])[question["shown"]]

    def _advance(self, state: dict[str, Any]) -> dict[str, Any]:
        state = {**state, "step": state["step"] + 1, "answer": None}
        state["question"] = self._pick(state)
        state["served"] = state["served"] + [[state["question"]["sample_id"], state["question"]["shown"]]]
        return state

    # --- what the UI calls -------------------------------------------------------------------------------------
    def start(self, state: dict[str, Any] | None) -> tuple:
        state = state if state and state.get("session_id") else new_state()
        if not self.pool[INPAINTED]:
            return self._view(state, None, "No data is loaded, so there is nothing to test.")
        if state["question"] is None:
            state = self._advance(state)
        prompt = ASK_WHERE if state["answer"] == INPAINTED else ASK_REAL_OR_NOT
        return self._view(state, self._image(state["question"]), "", prompt)

    def answer(self, choice: str, state: dict[str, Any] | None) -> tuple:
        choice = str(choice).strip().lower()
        choice = {"real": PRISTINE, "fake": INPAINTED}.get(choice, choice)
        if choice not in (PRISTINE, INPAINTED):
            raise ValueError(f"answer must be 'real' or 'inpainted', got {choice!r}")
        if not state or state.get("question") is None:
            return self.start(state)
        if state["answer"] == INPAINTED:  # already waiting for the click: the decision stands
            return self._view(state, self._image(state["question"]), "", ASK_WHERE)
        if choice == PRISTINE:
            return self._record(state, PRISTINE, None)
        state = {**state, "answer": INPAINTED}
        return self._view(state, self._image(state["question"]), "", ASK_WHERE)

    def locate(self, x: Any, y: Any, state: dict[str, Any] | None) -> tuple:
        """The "where?" click at image pixel (x, y); ignored unless the person just said "inpainted"."""
        if not state or state.get("question") is None:
            return self.start(state)
        image = self._image(state["question"])
        if state["answer"] != INPAINTED:
            return self._view(state, image, "First answer: real or inpainted?", ASK_REAL_OR_NOT)
        try:
            click = (int(x), int(y))
        except (TypeError, ValueError):
            click = None
        if click is None or not (0 <= click[0] < image.width and 0 <= click[1] < image.height):
            # Not stored: an answer's click must be a pixel of the image that was shown.
            return self._view(
                state, image, f"That click ({x}, {y}) is not on the image: click on the photo.", ASK_WHERE
            )
        return self._record(state, INPAINTED, click)

    def skip_locate(self, state: dict[str, Any] | None) -> tuple:
        if not state or state.get("question") is None or state["answer"] != INPAINTED:
            return self.start(state)
        return self._record(state, INPAINTED, None)

    # --- internals ---------------------------------------------------------------------------------------------
    def _record(self, state: dict[str, Any], choice: str, click: tuple[int, int] | None) -> tuple:
        question = state["question"]
        sample = self.store.sample(question["position"])
        hit = None
        if click is not None:
            mask = np.asarray(sample["mask"].convert("L")) if question["shown"] == "image" else None
            x, y = click
            inside = mask is not None and 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and mask[y, x] > 127
            hit = bool(inside)
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
            )
        )
        feedback = _feedback(question, sample, choice, hit)
        reveal = (
            mask_overlay(sample[question["shown"]], sample["mask"])
            if question["truth"] == INPAINTED
            else sample[question["shown"]]
        )
        state = self._advance(state)
        return self._view(state, self._image(state["question"]), feedback, ASK_REAL_OR_NOT, reveal)

    def _view(self, state, image, feedback, prompt=ASK_REAL_OR_NOT, reveal=None) -> tuple:
        """(state, image, prompt, feedback, last answer revealed, your score, accuracy per backend)."""
        score = self.answers.session_score(state["session_id"])
        if score["answered"]:
            share = score["correct"] / score["answered"]
            text = f"**Your score:** {score['correct']} of {score['answered']} right ({share:.0%})"
            if score["located"]:
                text += f" · you found the edited region {score['hits']} of {score['located']} times"
        else:
            text = "**Your score:** no answers yet."
        table = self.answers.accuracy_by_backend(self.data_source)
        table["backend"] = table["backend"].replace({"none": "none (real photos)"})
        table = table.rename(columns=ACCURACY_HEADERS)
        return state, image, prompt, feedback, reveal, text, table


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
