"""The VLM judge on a tiny random-weight LLaVA built from configs, saved to tmp_path and loaded by path
through AutoProcessor / AutoModelForImageTextToText (the code path of a real checkpoint)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from inpaintbench.builder.deceptiveness import assess_sample, create_judge
from inpaintbench.builder.deceptiveness.protocol import INVALID, trial_rng
from inpaintbench.builder.deceptiveness.runner import assess_run, read_assessments
from inpaintbench.builder.deceptiveness.vlm_judge import PAIR_PROMPT, SINGLE_PROMPT
from inpaintbench.builder.models import ModelNotFound
from inpaintbench.cli import main as cli_main
from tests.helpers.tiny_vlm import build_tiny_vlm

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py

rng = np.random.default_rng(0)
ORIGINAL = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
INPAINTED = ORIGINAL.copy()
INPAINTED[10:25, 12:30] = 128


@pytest.fixture(scope="module")
def tiny_vlm_dir(tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "tiny-llava")


@pytest.fixture(scope="module")
def judge(tiny_vlm_dir):
    return create_judge("vlm", model=str(tiny_vlm_dir), max_new_tokens=6)


def test_loads_by_path_and_asks_with_the_protocol_prompts(judge, tiny_vlm_dir):
    assert type(judge.model).__name__ == "LlavaForConditionalGeneration"
    prompt = judge._prompt(2, PAIR_PROMPT)
    assert prompt.count("<image>") == 2 and PAIR_PROMPT in prompt and prompt.endswith("assistant :")
    assert judge._prompt(1, SINGLE_PROMPT).count("<image>") == 1
    assert judge.describe() == {"name": "vlm", "params": {"model": str(tiny_vlm_dir), "dtype": None,
                                "max_new_tokens": 6, "temperature": 1.0, "max_side": 768}}


def test_sampling_is_seeded_per_call_and_leaves_torch_rng_alone(judge):
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    answers = [judge.ask([INPAINTED, ORIGINAL], PAIR_PROMPT, np.random.default_rng(s)) for s in range(6)]
    assert torch.equal(torch.random.get_rng_state(), state)
    assert answers == [judge.ask([INPAINTED, ORIGINAL], PAIR_PROMPT, np.random.default_rng(s)) for s in range(6)]
    assert len(set(answers)) > 1  # sampled, not greedy: seeds give different answers
    assert all(isinstance(a, str) and "<image>" not in a and "assistant" not in a for a in answers)


def test_assess_sample_with_the_vlm_is_deterministic_and_parses_answers(judge):
    a = assess_sample(judge, "s-vlm", INPAINTED, ORIGINAL, trials=6, seed=1)
    assert a == assess_sample(judge, "s-vlm", INPAINTED, ORIGINAL, trials=6, seed=1)

    def answers(seed):  # what the model said in each trial: the draws a seed decides
        return [judge.answer_single(INPAINTED, trial_rng(seed, "s-vlm", t)) for t in range(6)]

    assert answers(1) == answers(1) and answers(2) != answers(1)  # another seed, other sampled answers
    assert sum(a.counts.values()) == 6
    # Random weights over a vocabulary holding the answer words: some trials parse, and the parse is the rule's.
    assert a.counts[INVALID] < 6
    single = judge.answer_single(INPAINTED, trial_rng(1, "s-vlm", 0))
    assert single in ("real", "edited", None)


def test_the_runner_and_cli_assess_shards_with_the_vlm_judge(judge, tmp_path, capsys):
    """A shard written by the generator's own writer (schema-checked), assessed with the VLM judge."""
    from PIL import Image

    from inpaintbench.builder.shards import write_shard
    from inpaintbench.schema import COLUMNS

    base = {c: "" for c in COLUMNS}
    base.update(replacement_score=float("nan"), seed=0, mask_dilation_pct=0.0, mask_area_fraction=0.1,
                width=52, height=40, mask=Image.new("L", (52, 40)), original=Image.fromarray(ORIGINAL),
                changed_mask=Image.new("L", (52, 40)))
    rows = [
        {**base, "sample_id": "a", "label": 1, "image": Image.fromarray(INPAINTED), "backend": "tiny"},
        {**base, "sample_id": "b", "label": 0, "image": Image.fromarray(ORIGINAL), "backend": "none"},
    ]
    write_shard(rows, tmp_path / "data" / "train-00000-of-00001.parquet")
    result = assess_run(tmp_path, judge, trials=2, seed=0, progress=False)
    out = {r["sample_id"]: r for r in read_assessments(result.assessments_file)}
    assert out["a"]["judge"] == "vlm" and out["a"]["trials"] == 2 and out["b"]["outcome"] == "n/a"
    # The command line loads the same folder (default generation settings: another judge config, new rows).
    argv = ["assess", "--data", str(tmp_path), "--judge", "vlm", "--model", judge.params["model"], "--trials", "2"]
    assert cli_main(argv + ["--no-progress"]) == 0
    assert len(read_assessments(result.assessments_file)) == 4 and "(all)" in capsys.readouterr().out


def test_a_missing_model_is_named(tmp_path, tiny_vlm_dir):
    missing = tmp_path / "no-such-vlm"
    with pytest.raises(ModelNotFound, match=f"VLM judge model: model path '{missing}' does not exist"):
        create_judge("vlm", model=str(missing))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_vlm_dir, broken)
    (broken / "config.json").unlink()
    with pytest.raises(
        ModelNotFound, match=f"VLM judge model: cannot load .* weights '{broken}': the folder is not a complete"
    ):
        create_judge("vlm", model=str(broken))
    with pytest.raises(ValueError, match="dtype 'float17' is not a torch dtype"):
        create_judge("vlm", model=str(tiny_vlm_dir), dtype="float17")


def test_a_dtype_is_applied(tiny_vlm_dir):
    judge = create_judge("vlm", model=str(tiny_vlm_dir), dtype="bfloat16", max_new_tokens=3)
    assert judge.model.dtype == torch.bfloat16
    assert isinstance(judge.ask([INPAINTED], SINGLE_PROMPT, np.random.default_rng(0)), str)


def test_a_hub_id_offline_and_not_cached_is_named(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        ModelNotFound, match="'inpaintbench-test/no-such-vlm': HF_HUB_OFFLINE is set and it is not in the local cache"
    ):
        create_judge("vlm", model="inpaintbench-test/no-such-vlm")
