"""The "saor" planner: semantically aligned object replacement (scene-fit replacement + context-aware prompt).

``create_planner("saor", removal_share=0.2, llm="path/or/id", captioner="path/or/id")``. Everything random comes
from the ``rng`` the generator passes per sample, in a fixed order (removal draw, candidate draw, prompt draws),
so a plan is a pure function of (scene, target, seed, parameters).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from ..planning import EditPlan, Planner, register_planner
from ..scene import Scene, SceneObject
from .choice import ReplacementChooser
from .context import build_context
from .embedding import DEFAULT_EMBEDDING_MODEL, TextEmbedder
from .template_writer import TemplatePromptWriter


@functools.lru_cache(maxsize=4)
def shared_embedder(model: str = DEFAULT_EMBEDDING_MODEL) -> TextEmbedder:
    # One loaded copy per process however many planners the generator creates (one per worker/config).
    return TextEmbedder(model)


@register_planner("saor")
class SaorPlanner(Planner):
    def __init__(
        self,
        *,
        embedding_model: str = DEFAULT_EMBEDDING_MODEL,
        removal_share: float = 0.0,
        top_k: int = 5,
        temperature: float = 0.1,
        llm: str | None = None,
        llm_params: dict[str, Any] | None = None,
        captioner: str | None = None,
        captioner_params: dict[str, Any] | None = None,
    ):
        self.chooser = ReplacementChooser(
            shared_embedder(str(embedding_model)), removal_share=removal_share, top_k=top_k, temperature=temperature
        )
        if llm:
            from .llm_writer import LLMPromptWriter

            self.writer = LLMPromptWriter(llm, **(llm_params or {}))
        else:
            self.writer = TemplatePromptWriter()
        self.captioner = None
        if captioner:
            from .captioner import Captioner

            self.captioner = Captioner(captioner, **(captioner_params or {}))
        self._captions: dict[tuple[str, str], str] = {}
        self.params = {
            "embedding_model": str(embedding_model), "removal_share": removal_share, "top_k": top_k,
            "temperature": temperature, "llm": llm or "", "captioner": captioner or "",
        }

    def caption_for(self, scene: Scene) -> str:
        """The scene's own caption, else one from the configured captioner (once per image), else ""."""
        if scene.caption or self.captioner is None:
            return scene.caption
        key = (scene.source, scene.image_id)
        if key not in self._captions:
            self._captions[key] = self.captioner.caption(scene.image)
        return self._captions[key]

    def plan(self, scene: Scene, target: SceneObject, rng: np.random.Generator) -> EditPlan:
        caption = self.caption_for(scene)
        if caption != scene.caption:
            scene = dataclasses.replace(scene, caption=caption)
        context = build_context(scene, target)
        choice = self.chooser.choose(context, rng)
        extra: dict[str, Any] = {
            "saor_target": context.target,
            "saor_setting": context.setting,
            "saor_caption": context.caption,
            "saor_prompt_writer": self.writer.name,
        }
        if choice.action == "remove":
            extra["saor_removal_reason"] = choice.reason
            return EditPlan(
                action="remove",
                prompt=self.writer.write_removal(context, rng),
                negative_prompt=f"{context.target}, object, text, watermark",
                extra=extra,
            )
        prompt = self.writer.write(context, choice.replacement, rng)
        if getattr(self.writer, "last_fell_back", False):
            extra["saor_prompt_writer"] = f"{self.writer.name}->template (unusable LLM output)"
        extra["saor_candidates"] = [[c.name, round(c.score, 4)] for c in choice.top]
        return EditPlan(
            action="replace",
            prompt=prompt,
            replacement=choice.replacement,
            replacement_score=choice.score,
            negative_prompt=f"{context.target}, distorted, deformed, blurry, text, watermark",
            extra=extra,
        )
