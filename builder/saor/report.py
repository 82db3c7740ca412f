"""The SAOR report: what the planner does with every editable object of a source set, as a markdown table.

Rows use the generator's own pieces (its sources, its object eligibility rules, its per-sample plan stream
``rng_for(seed, "plan", source, image, object, "edit0")``), so for the objects that ``generate --planner saor``
selects, the report shows exactly the replacement and prompt that end up in the samples. It lists every eligible
object, not only the selected ones, so that there are more choices to judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tqdm import tqdm

from ..config import GenerateConfig
from ..draws import SampleKey, rng_for
from ..planning import Planner
from ..scene import SkippedInput
from ..selection import SelectionConfig, _natural_key, rejection_reason


@dataclass
class ReportRow:
    source: str
    image_id: str
    object_id: str
    category: str
    action: str
    replacement: str
    score: float
    prompt: str
    setting: str
    caption: str


def report_rows(config: GenerateConfig, sources: list, planner: Planner, progress: bool = True) -> tuple[list, list]:
    """(rows, skipped) where skipped is ``[(source, image_id, reason)]`` for photos the source could not use."""
    selection = SelectionConfig(
        min_area_fraction=config.min_area_fraction,
        max_area_fraction=config.max_area_fraction,
        min_pixels=config.min_object_pixels,
        max_objects=config.objects_per_image,
        skip_crowd=config.skip_crowd,
    )
    work = [(source, image_id) for source in sources for image_id in source.list_image_ids()]
    if config.max_images is not None:
        work = work[: config.max_images]
    rows, skipped = [], []
    for source, image_id in tqdm(work, desc="saor-report", unit="image", disable=not progress):
        scene = source.load(image_id)
        if isinstance(scene, SkippedInput):
            skipped.append((source.name, image_id, scene.reason))
            continue
        eligible = [o for o in scene.objects if not rejection_reason(o, selection)]
        for obj in sorted(eligible, key=lambda o: _natural_key(o.object_id)):
            key = SampleKey(source.name, image_id, obj.object_id, "edit0")
            plan = planner.plan(scene, obj, rng_for(config.seed, "plan", *key.parts))
            rows.append(
                ReportRow(
                    source=source.name, image_id=image_id, object_id=obj.object_id, category=obj.category,
                    action=plan.action, replacement=plan.replacement, score=plan.replacement_score,
                    prompt=plan.prompt, setting=str(plan.extra.get("saor_setting", "")),
                    caption=str(plan.extra.get("saor_caption", "")),
                )
            )
    return rows, skipped


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: list[ReportRow], skipped: list, header_lines: list[str]) -> str:
    lines = ["# SAOR report", "", *header_lines, ""]
    lines.append("| image | object | action | replacement | score | setting | prompt |")
    lines.append("|---|---|---|---|---:|---|---|")
    for row in rows:
        score = "" if math.isnan(row.score) else f"{row.score:.3f}"
        lines.append(
            f"| {_cell(row.source + '/' + row.image_id)} | {_cell(row.category)} ({_cell(row.object_id)}) | "
            f"{row.action} | {_cell(row.replacement)} | {score} | {row.setting} | {_cell(row.prompt)} |"
        )
    replaced = sum(r.action == "replace" for r in rows)
    lines += ["", f"{len(rows)} objects, {replaced} replacements, {len(rows) - replaced} removals."]
    if skipped:
        lines += ["", "Photos the source could not use:", ""]
        lines += [f"- {_cell(s + '/' + i)}: {_cell(reason)}" for s, i, reason in skipped]
    return "\n".join(lines) + "\n"
