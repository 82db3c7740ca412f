"""SAOR's model code paths (segmenter, captioner, prompt LLM, folder source) with tiny random-weight models.

Each model is built from a config inside the test, saved with save_pretrained and loaded back by path (or from a
hand-made HF cache, by id) through the real loading code: nothing is downloaded.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from inpaintbench.builder.models import ModelNotFound, resolve_model
from inpaintbench.builder.saor.categories import lookup
from inpaintbench.builder.saor.context import SceneContext
from inpaintbench.builder.scene import Scene, SceneObject, SkippedInput

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py
transformers = pytest.importorskip("transformers")

SEGMENT_LABELS = ["cup", "dining table", "person", "dog", "wall-other-merged", "sofa"]
WORDS = (
    "a an the cozy wooden armchair bowl to complement furniture in room cat dog cup on table with replace prompt "
    "scene caption other objects setting indoor outdoor of and , . : you write short photo sofa man"
).split()


def random_image(seed: int = 0, size=(64, 48)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def segmenter_dir(tmp_path_factory):
    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    backbone = SwinConfig(
        image_size=32, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    config = Mask2FormerConfig(
        backbone_config=backbone,
        hidden_dim=32,
        num_queries=6,
        encoder_layers=1,
        decoder_layers=2,
        num_attention_heads=2,
        dim_feedforward=32,
        mask_feature_size=32,
        feature_size=32,
        encoder_feedforward_dim=32,
        common_stride=4,
        id2label=dict(enumerate(SEGMENT_LABELS)),
        label2id={n: i for i, n in enumerate(SEGMENT_LABELS)},
    )
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-mask2former")
    Mask2FormerForUniversalSegmentation(config).eval().save_pretrained(directory)
    Mask2FormerImageProcessor(size={"shortest_edge": 32, "longest_edge": 64}).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def captioner_dir(tmp_path_factory):
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    directory = tmp_path_factory.mktemp("tiny-blip")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + WORDS
    (directory / "vocab.txt").write_text("\n".join(vocab))
    tokenizer = BertTokenizer(str(directory / "vocab.txt"), bos_token="[DEC]")
    config = BlipConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
            max_position_embeddings=64, encoder_hidden_size=16, bos_token_id=5, pad_token_id=0, sep_token_id=3,
            eos_token_id=3,
        ),
        vision_config=dict(
            hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).eval().save_pretrained(directory)
    BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    ).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=3,
    )
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def fake_hf_cache(cache_dir, repo_id: str, files_from):
    """The HF cache layout (models--org--name/snapshots/<rev>, refs/main) holding a model saved elsewhere."""
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(files_from, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return cache_dir


CONTEXT = SceneContext("cup", ("dining table", "bowl"), "a cup on a table", "indoor")


# --- segmenter ---------------------------------------------------------------------------------------------------


def test_segmenter_turns_segments_into_scene_objects(segmenter_dir):
    from inpaintbench.builder.saor.segmenter import Segmenter

    image = random_image()
    everything = Segmenter(segmenter_dir, subtask="instance", threshold=0.0, min_area_fraction=0.0, things_only=False)
    things = Segmenter(segmenter_dir, subtask="instance", threshold=0.0, min_area_fraction=0.0)
    all_objects, objects = everything.segment(image), things.segment(image)
    assert objects, "the tiny model at threshold 0 must yield segments"
    assert len(objects) <= len(all_objects)
    assert [o.object_id for o in objects] == [f"seg{i}" for i in range(len(objects))]
    areas = [o.area_fraction for o in objects]
    assert areas == sorted(areas, reverse=True)
    for obj in objects:
        assert obj.mask.shape == (48, 64) and obj.mask.dtype == bool and obj.mask.any()
        assert lookup(obj.category) is not None  # "wall-other-merged" is stuff, never an object
        x, y, w, h = obj.bbox
        assert obj.mask[int(y), :].any() and obj.mask[:, int(x)].any() and w >= 1 and h >= 1
    assert {o.category for o in all_objects} <= {"cup", "dining table", "person", "dog", "wall", "couch"}
    again = things.segment(image)
    assert [(o.category, o.mask.sum()) for o in again] == [(o.category, o.mask.sum()) for o in objects]


# --- captioner ---------------------------------------------------------------------------------------------------


def test_captioner_writes_one_deterministic_line(captioner_dir):
    from inpaintbench.builder.saor.captioner import Captioner

    captioner = Captioner(captioner_dir, max_new_tokens=8)
    caption = captioner.caption(random_image(1))
    assert caption and "\n" not in caption
    assert set(caption.replace(",", " , ").replace(".", " . ").split()) <= set(WORDS)
    assert captioner.caption(random_image(1)) == caption


# --- LLM prompt writer -------------------------------------------------------------------------------------------


def test_llm_writer_uses_the_chat_template_and_caps_the_line(llm_dir):
    from inpaintbench.builder.saor.llm_writer import LLMPromptWriter

    writer = LLMPromptWriter(llm_dir, max_new_tokens=30, max_chars=60, do_sample=True, temperature=1.0)
    text = writer.tokenizer.apply_chat_template(
        writer.messages(CONTEXT, "bowl"), tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<|system|>") and text.endswith("<|assistant|>") and "computer" not in text
    prompts = [writer.write(CONTEXT, "bowl", np.random.default_rng(seed)) for seed in range(4)]
    for prompt in prompts:
        assert prompt and "\n" not in prompt and len(prompt) <= 60 and "<|" not in prompt
    assert [writer.write(CONTEXT, "bowl", np.random.default_rng(seed)) for seed in range(4)] == prompts
    assert len(set(prompts)) > 1  # seeded sampling: the seed matters
    greedy = LLMPromptWriter(llm_dir, max_new_tokens=10)
    assert greedy.write(CONTEXT, "bowl", np.random.default_rng(1)) == greedy.write(
        CONTEXT, "bowl", np.random.default_rng(2)
    )


def test_llm_writer_falls_back_to_templates_on_unusable_output(llm_dir):
    from inpaintbench.builder.saor.llm_writer import LLMPromptWriter

    writer = LLMPromptWriter(llm_dir, max_new_tokens=1)  # one token is never a usable prompt
    prompt = writer.write(CONTEXT, "bowl", np.random.default_rng(0))
    assert writer.last_fell_back and "bowl" in prompt


def test_planner_with_llm_and_captioner(llm_dir, captioner_dir):
    from inpaintbench.builder.planning import create_planner

    planner = create_planner(
        "saor", llm=str(llm_dir), llm_params={"max_new_tokens": 12, "do_sample": True},
        captioner=str(captioner_dir), captioner_params={"max_new_tokens": 6},
    )
    mask = np.zeros((48, 64), dtype=bool)
    mask[10:20, 10:20] = True
    scene = Scene("test", "img", random_image(2), [SceneObject("1", "cup", mask, (10, 10, 10, 10)),
                                                   SceneObject("2", "dining table", ~mask, (0, 0, 64, 48))])
    plan = planner.plan(scene, scene.objects[0], np.random.default_rng(5))
    assert plan.action == "replace" and plan.extra["saor_prompt_writer"].startswith("llm")
    assert plan.extra["saor_caption"] == planner.captioner.caption(scene.image)
    again = planner.plan(scene, scene.objects[0], np.random.default_rng(5))
    assert (again.prompt, again.replacement) == (plan.prompt, plan.replacement)


# --- loading errors and HF_HUB_OFFLINE ---------------------------------------------------------------------------


def test_missing_models_are_named_in_the_error(tmp_path, monkeypatch):
    from inpaintbench.builder.saor.captioner import Captioner
    from inpaintbench.builder.saor.llm_writer import LLMPromptWriter
    from inpaintbench.builder.saor.segmenter import Segmenter

    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFound, match="segmentation model .*no-such-model.*no such directory"):
        Segmenter(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="captioning model .*empty.*no config.json"):
        Captioner(tmp_path / "empty")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFound, match="prompt LLM 'nobody/absent-llm': not in the HF cache and HF_HUB_OFFLINE"):
        LLMPromptWriter("nobody/absent-llm", cache_dir=str(tmp_path / "cache"))


def test_a_broken_model_directory_is_named(tmp_path, llm_dir):
    from inpaintbench.builder.saor.llm_writer import LLMPromptWriter

    broken = tmp_path / "broken"
    shutil.copytree(llm_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelNotFound, match="broken"):
        LLMPromptWriter(broken)


def test_hub_ids_load_from_the_cache_when_offline(tmp_path, monkeypatch, llm_dir):
    from inpaintbench.builder.saor.llm_writer import LLMPromptWriter

    cache = fake_hf_cache(tmp_path / "hub", "tiny-org/tiny-llama", llm_dir)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # set after huggingface_hub was imported: must still hold
    assert resolve_model("tiny-org/tiny-llama", what="x", cache_dir=cache).parent.name == "snapshots"
    writer = LLMPromptWriter("tiny-org/tiny-llama", cache_dir=str(cache), max_new_tokens=8)
    assert writer.write(CONTEXT, "bowl", np.random.default_rng(0))
    with pytest.raises(ModelNotFound, match="tiny-org/other"):
        resolve_model("tiny-org/other", what="prompt LLM", cache_dir=cache)


# --- folder source -----------------------------------------------------------------------------------------------


def test_folder_source_segments_photos_and_skips_bad_files(tmp_path, segmenter_dir, captioner_dir):
    from inpaintbench.builder.sources import create_source

    images = tmp_path / "photos"
    (images / "sub").mkdir(parents=True)
    random_image(3).save(images / "b.png")
    random_image(4, size=(80, 40)).save(images / "sub" / "a.jpg")
    (images / "broken.jpg").write_bytes(b"this is not a jpeg")
    (images / "notes.txt").write_text("ignored")
    source = create_source(
        {"type": "folder", "name": "mine", "images": str(images), "segmenter": str(segmenter_dir),
         "segmenter_params": {"subtask": "instance", "threshold": 0.0, "min_area_fraction": 0.0},
         "captioner": str(captioner_dir), "captioner_params": {"max_new_tokens": 5}},
        max_side=64,
    )
    assert source.list_image_ids() == ["b.png", "broken.jpg", "sub/a.jpg"]
    scene = source.load("sub/a.jpg")
    assert isinstance(scene, Scene) and scene.source == "mine" and scene.image.size == (64, 32)
    assert scene.objects and all(o.mask.shape == (32, 64) for o in scene.objects)
    assert scene.caption and scene.extra["segmenter"] == str(segmenter_dir)
    skipped = source.load("broken.jpg")
    assert isinstance(skipped, SkippedInput) and "broken.jpg" in skipped.reason
    with pytest.raises(KeyError, match="notes.txt"):
        source.load("notes.txt")


def test_folder_source_config_errors_name_the_problem(tmp_path):
    from inpaintbench.builder.sources import SourceConfigError, create_source

    with pytest.raises(SourceConfigError, match="does not exist"):
        create_source({"type": "folder", "images": str(tmp_path / "nope"), "segmenter": "x"})
    source = create_source({"type": "folder", "images": str(tmp_path), "segmenter": str(tmp_path / "no-model")})
    random_image().save(tmp_path / "p.png")
    source = create_source({"type": "folder", "images": str(tmp_path), "segmenter": str(tmp_path / "no-model")})
    with pytest.raises(ModelNotFound, match="no-model"):
        source.load("p.png")
