"""Diffusion backends: images/s per family, and what our backend costs over the bare diffusers pipeline call.

For each family a tiny random-weight pipeline (tests/helpers/tiny_pipelines.py) is saved, loaded back through our
backend by local path, and timed two ways in the same process, on the same pipeline object:

- ours: ``backend.inpaint(request)`` on a photo at its original size (resize to the working size, seeded
  generator, pipeline call, Lanczos back to the original size, paste-back);
- bare: ``backend.pipeline(**kwargs)`` with inputs already at the working size (the baseline).

ratio = ours / bare: our pre/post-processing overhead on top of the model. Tiny models make the model's part
small, so this is an upper bound of the overhead; with real checkpoints the pipeline call dominates. Also timed:
``inpaint_batch`` of N same-size requests against N single ``inpaint`` calls (batch/single < 1: batching pays).
Medians over interleaved repeats. A last table times finishing a sample at real sizes (512-2048 px): resize
and paste-back (alpha, feathered, Poisson) against the bare Lanczos resize.

    .venv/bin/python benchmarks/diffusion.py [--families sd flux] [--repeats 5] [--size 96x72] [--batch 4]
    .venv/bin/python benchmarks/diffusion.py --config configs/gpu_mix.yaml --repeats 3    # real models, on a GPU

With ``--config`` the same table is made for each diffusion entry of a generation config: that is how the real
checkpoints of configs/gpu_mix.yaml are timed on a GPU (dtype auto = fp16/bf16; ``peak GiB`` is the most GPU
memory allocated during the entry's calls).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inpaintbench.builder.backends import InpaintRequest, create_backend

# The tiny pipelines are test fixtures (tests/helpers/, not in the wheel): the repository root makes them importable
# when this file is run as `.venv/bin/python benchmarks/diffusion.py` (appended: an installed inpaintbench wins).
sys.path.append(str(Path(__file__).resolve().parents[1]))
from tests.helpers.tiny_pipelines import FAMILIES, save_tiny  # noqa: E402

BACKEND_OF_FAMILY = {
    "sd": "sd_inpaint", "sdxl": "sdxl_inpaint", "sd3": "sd3_inpaint", "kandinsky": "kandinsky22_inpaint",
    "flux": "flux_fill", "controlnet": "controlnet_inpaint",
}


def make_request(width: int, height: int, seed: int) -> InpaintRequest:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
    return InpaintRequest(image=image, mask=Image.fromarray(mask, mode="L"), prompt="a red armchair", seed=seed)


def bare_kwargs(backend, request: InpaintRequest) -> dict:
    """The pipeline call our backend makes for ``request``, prepared outside the timed region."""
    return backend.pipeline_kwargs([request], backend.working_size(*request.image.size))


def interleaved_medians(fns, repeats: int) -> list[float]:
    """Median seconds per call of each fn, calls alternated so that load from other processes on the machine
    hits every variant alike (a shared 2-core box drifts too much for back-to-back blocks)."""
    for fn in fns:
        fn()  # warm-up: first calls allocate and pick kernels
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for fn, times in zip(fns, samples, strict=False):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return [float(np.median(times)) for times in samples]


def postprocess_table(repeats: int) -> None:
    """What finishing a sample costs at real sizes (no model involved): a 512 px working output brought to the
    original's size and pasted back, against the bare Lanczos resize (baseline) in the same run."""
    from inpaintbench.builder import strategies

    print(f"\npost-processing a 512 px working output (median of {repeats}; baseline = Lanczos resize alone)")
    header = (f"{'original':<12}{'resize ms':>10}{'alpha ms':>10}{'x':>7}{'feather4 ms':>12}{'x':>7}"
              f"{'poisson ms':>11}{'x':>7}")
    print(header)
    print("-" * len(header))
    for long_side in (768, 1024, 2048):
        size = (long_side, long_side * 3 // 4)
        request = make_request(*size, seed=2)
        working = strategies.working_size(*size, strategies.SizeRule(multiple=8, long_side=512))
        generated = make_request(*working, seed=3).image
        # Bound now (default arguments): the lambdas run inside this iteration, but a closure over the loop
        # variables would read whatever the loop last assigned.
        image, mask = request.image, request.mask
        variants = [
            lambda g=generated, s=size: strategies.upscale(g, s),
            lambda g=generated, i=image, m=mask: strategies.finish(i, m, g, "paste_back"),
            lambda g=generated, i=image, m=mask: strategies.finish(i, m, g, "paste_back", feather=4),
            lambda g=generated, i=image, m=mask: strategies.finish(i, m, g, "paste_back", blend="poisson"),
        ]
        base, alpha, feather, poisson = interleaved_medians(variants, repeats)
        print(f"{f'{size[0]}x{size[1]}':<12}{base * 1e3:>10.1f}{alpha * 1e3:>10.1f}{alpha / base:>7.2f}"
              f"{feather * 1e3:>12.1f}{feather / base:>7.2f}{poisson * 1e3:>11.1f}{poisson / base:>7.2f}")


def bench_backend(backend, label: str, width: int, height: int, repeats: int, batch_size: int) -> str:
    """One table row: our call vs the bare pipeline call, and a batch vs as many single calls."""
    request = make_request(width, height, seed=1)
    kwargs = bare_kwargs(backend, request)
    generator_device = backend.device if backend.device.startswith("cuda") else "cpu"

    def bare():
        kwargs["generator"] = [torch.Generator(generator_device).manual_seed(1)]
        with torch.inference_mode():
            return backend.pipeline(**kwargs).images

    batch = [make_request(width, height, seed=s) for s in range(batch_size)]
    if backend.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    ours_s, bare_s = interleaved_medians([lambda: backend.inpaint(request), bare], repeats)
    batch_s, singles_s = interleaved_medians(
        [lambda: backend.inpaint_batch(batch), lambda: [backend.inpaint(r) for r in batch]], max(1, repeats // 2)
    )
    working = "x".join(map(str, backend.working_size(width, height)))
    peak = f"{torch.cuda.max_memory_allocated() / 2**30:.1f}" if backend.device.startswith("cuda") else "-"
    return (f"{label:<22}{backend.params['dtype']:>9}{working:>10}{1 / ours_s:>11.3f}{1 / bare_s:>11.3f}"
            f"{ours_s / bare_s:>10.3f}{batch_size / batch_s:>12.3f}{batch_s / singles_s:>13.3f}{peak:>9}")


def config_backends(path: str, steps: int | None):
    """(label, backend) for each diffusion entry of a generation config: real checkpoints on a GPU
    (configs/gpu_mix.yaml), or tiny ones on a CPU (configs/tiny_cpu_mix.yaml). Classical entries are skipped."""
    from inpaintbench.builder.backends.registry import LAZY_BACKENDS
    from inpaintbench.builder.config import GenerateConfig

    config = GenerateConfig.from_file(path)
    for index, entry in enumerate(config.backends):
        if entry.name not in LAZY_BACKENDS:
            continue
        params = dict(entry.params)
        if steps is not None:
            params["steps"] = steps
        yield f"{index}:{entry.name}", create_backend(entry.name, **params)


def tiny_backends(families, steps: int, tmp: str):
    for family in families:
        params = save_tiny(family, Path(tmp) / family)
        extra = {"prior_steps": steps} if family == "kandinsky" else {}
        yield BACKEND_OF_FAMILY[family], create_backend(BACKEND_OF_FAMILY[family], steps=steps, working_long_side=64,
                                                        **params, **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--config", help="time the diffusion entries of this generation config instead of tiny "
                        "pipelines (e.g. configs/gpu_mix.yaml on a GPU); each keeps its own steps unless --steps")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", default=None, help="original photo size WxH (default 96x72 for tiny pipelines, "
                        "640x480 with --config: COCO's usual size)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default 2 for tiny pipelines)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-postprocess", action="store_true", help="only the per-backend table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in (args.size or ("640x480" if args.config else "96x72")).lower().split("x"))
    device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "cpu (no GPU figures here)"
    what = (
        f"the diffusion entries of {args.config}"
        if args.config
        else "tiny random-weight pipelines, working long side 64"
    )
    steps = "each entry's own" if args.config and args.steps is None else str(args.steps or 2)
    print(f"device: {device}, torch {torch.__version__}, threads {args.threads}, photo {width}x{height}, "
          f"{steps} steps, {args.repeats} repeats after one warm-up; {what}")
    header = (f"{'backend':<22}{'dtype':>9}{'working':>10}{'ours img/s':>11}{'bare img/s':>11}{'ours/bare':>10}"
              f"{'batch img/s':>12}{'batch/single':>13}{'peak GiB':>9}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        backends = config_backends(args.config, args.steps) if args.config else tiny_backends(
            args.families, args.steps or 2, tmp)
        for label, backend in backends:
            print(bench_backend(backend, label, width, height, args.repeats, args.batch), flush=True)
            del backend  # one checkpoint in memory at a time
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    if not args.skip_postprocess:
        postprocess_table(args.repeats)


if __name__ == "__main__":
    main()
