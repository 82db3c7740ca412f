"""Full-size architecture benchmark: every diffusion family of configs/gpu_mix.yaml at its published size, random
weights (benchmarks/fullsize_models.py), timed through our backend; and what a SAGI-size build costs.

    .venv/bin/python benchmarks/fullsize.py                          # all families; GPU if there is one
    .venv/bin/python benchmarks/fullsize.py --families sd sdxl --reuse   # measure two, the rest from earlier runs
    .venv/bin/python benchmarks/fullsize.py --families --reuse          # only rewrite the report and the plot

Results go to benchmarks/results/fullsize.txt (+ .json, the measurements) and docs/img/fullsize.png on a CPU,
fullsize_gpu.* on a GPU. On the CPU here (2 cores, 24 GB) the families that fit in fp32 are run one at a time
under the shared big-memory lock:  for f in sd sd2 controlnet sdxl; do flock LOCK python ... --families $f --reuse

Per family, in fresh subprocesses (so memory peaks do not mix): the pipeline is built from configs/architectures
and saved with save_pretrained (safetensors), then loaded back through our backend by local path (load time
measured) and timed on a 640x480 photo (COCO's usual size) at the family's own working size:

- bare: ``backend.pipeline(**backend.pipeline_kwargs(...))`` at two step counts; seconds per denoising step is
  the difference over the difference in denoiser calls, the rest of the call (text encoders, prior, VAE encode
  and decode) is the fixed cost; per image = fixed + denoiser calls at the configured steps x per step;
- ours: ``backend.inpaint(request)`` (resize, the call, paste-back/blend) at the larger step count: ours/bare;
- peak memory: the process's peak RSS on a CPU (weights + activations), torch.cuda.max_memory_allocated on a GPU.

FLOPs per step and per image are counted for EVERY family with FlopCounterMode on the meta device
(benchmarks/fullsize_flops.py), also those too big to run here. A family whose weights plus an activation
allowance exceed the memory budget is skipped, with the reason printed. Then the SAGI table: 95,000 inpainted
images split by the gpu_mix weights, on 1 GPU and on N GPUs with accelerate (linear in N, plus the per-process
model load, which does not shrink with N); on a CPU it gives the CPU hours measured here and a GPU estimate from the
FLOPs at a stated sustained throughput, to be replaced by running this same script on a GPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from diffusion import bare_kwargs, interleaved_medians, make_request
from fullsize_models import FAMILIES, materialize, parameter_counts

ROOT = Path(__file__).resolve().parent.parent
# gpu_mix entries -> family: sd_inpaint serves two checkpoints; every other backend is one family.
FAMILY_OF_MODEL = {"stable-diffusion-v1-5/stable-diffusion-inpainting": "sd",
                   "stabilityai/stable-diffusion-2-inpainting": "sd2"}
FAMILY_OF_BACKEND = {"sdxl_inpaint": "sdxl", "sd3_inpaint": "sd3", "kandinsky22_inpaint": "kandinsky",
                     "flux_fill": "flux", "controlnet_inpaint": "controlnet"}
# Entry params that change what is computed or what "ours" does around the call; the rest name checkpoints.
RUN_PARAMS = ("steps", "guidance", "scheduler", "strength", "strategy", "feather", "blend", "prior_steps",
              "prior_guidance", "conditioning_scale")
BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
# Activations at <= ~1.2 MP working sizes, beside the weights (measured peaks are reported next to it).
ACTIVATION_ALLOWANCE_GIB = 3.0
# GPU estimate when no GPU is here: NVIDIA H100 SXM5, dense BF16 tensor-core peak 989 TFLOPS (NVIDIA H100 Tensor
# Core GPU datasheet: 1,979 TFLOPS "with sparsity", half of it dense), at an assumed 25% of peak sustained. The 25%
# is one public anchor, not a measurement of ours: "out of the box, SDXL 1.0 takes 8-10 seconds to create a
# 1024x1024px image from a prompt on an A100" (Baseten, "SDXL inference in under 2 seconds"); at our count of
# 13.7 TFLOP per guided step, 50 steps + VAE decode are ~0.69 PFLOP, i.e. ~77 TFLOPS sustained, 25% of the A100's
# 312 TFLOPS dense BF16/FP16 peak. Small models at batch 1 (SD 1.5 at 512 px) are launch-bound and do worse.
H100_BF16_DENSE_TFLOPS = 989.0
ASSUMED_UTILISATION = 0.25
# Weight loading on a GPU machine when not measured: safetensors from local NVMe at an assumed 2 GB/s.
ASSUMED_LOAD_GBPS = 2.0


def family_of(entry) -> str | None:
    if entry.name == "sd_inpaint":
        return FAMILY_OF_MODEL.get(entry.params.get("model", "stable-diffusion-v1-5/stable-diffusion-inpainting"))
    return FAMILY_OF_BACKEND.get(entry.name)


def run_params(entry) -> dict:
    return {k: v for k, v in entry.params.items() if k in RUN_PARAMS}


# ---- child processes (one job each, so their peak memory is theirs alone) -----------------------------------------

def child_materialize(job: dict) -> dict:
    start = time.perf_counter()
    params = materialize(job["family"], job["folder"], dtype=getattr(torch, job["torch_dtype"]), seed=job["seed"],
                         device=job["device"])
    return {"params": params, "seconds": time.perf_counter() - start,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def child_measure(job: dict) -> dict:
    from inpaintbench.builder.backends import create_backend

    spec = FAMILIES[job["family"]]
    start = time.perf_counter()
    backend = create_backend(spec.backend, **job["params"], **job["run_params"], dtype=job["dtype"],
                             device=job["device"])
    load_s = time.perf_counter() - start
    cuda = backend.device.startswith("cuda")
    request = make_request(*job["size"], seed=1)
    calls = [0]
    for name in ("unet", "transformer"):  # the denoiser: one call per denoising step
        module = getattr(backend.pipeline, name, None)
        if isinstance(module, torch.nn.Module):
            module.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def bare(steps: int) -> int:
        backend.params["steps"] = steps  # what pipeline_kwargs reads
        kwargs = bare_kwargs(backend, request)
        kwargs["generator"] = [torch.Generator(backend.device if cuda else "cpu").manual_seed(1)]
        before = calls[0]
        with torch.inference_mode():
            backend.pipeline(**kwargs)
        sync()
        return calls[0] - before

    def ours(steps: int) -> None:
        backend.params["steps"] = steps
        backend.inpaint(request)
        sync()

    low, high = job["low"], job["high"]
    calls_at = {}
    fns = [lambda: calls_at.__setitem__("low", bare(low)), lambda: calls_at.__setitem__("high", bare(high)),
           lambda: ours(high)]
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    usage, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    bare_low, bare_high, ours_high = interleaved_medians(fns, job["repeats"])
    # CPU seconds over wall seconds: the cores this process really got. Below the machine's count, other processes
    # took the rest, and the timings are that much slower than on a quiet machine.
    after = resource.getrusage(resource.RUSAGE_SELF)
    cores = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) / (time.perf_counter() - wall)
    peak = (torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"load_s": load_s, "bare_low_s": bare_low, "bare_high_s": bare_high, "ours_high_s": ours_high,
            "calls_low": calls_at["low"], "calls_high": calls_at["high"], "peak_gib": peak / 2**30,
            "dtype": backend.params["dtype"], "working": list(backend.working_size(*job["size"])),
            "device": backend.device, "cores_used": cores}


def run_child(kind: str, job: dict, timeout: float | None = None) -> dict:
    """Run a child job in a fresh interpreter; its last stdout line is the JSON result."""
    proc = subprocess.run([sys.executable, __file__, kind, json.dumps(job)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{kind} {job.get('family')} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(lines[-1][len("RESULT "):])


# ---- the parent: plan, FLOPs, memory check, tables -------------------------------------------------------------

def flops_for(family: str, params: dict, steps: int, size) -> object:
    from fullsize_flops import count_call_flops, meta_backend

    return count_call_flops(meta_backend(family, **params), make_request(*size, seed=1), steps)


def probe_steps(family: str, params: dict, size, extra: int) -> tuple[int, int]:
    """The smallest step count with at least one denoiser call (SDXL at strength 0.99 needs 2), and that plus
    ``extra``: the two step counts that are timed."""
    for low in range(1, 5):
        try:
            if flops_for(family, params, low, size).denoiser_calls >= 1:
                return low, low + extra
        except ValueError:  # SDXL's pipeline refuses a call that strength leaves without a step
            continue
    raise RuntimeError(f"{family}: no denoiser call with up to 4 steps")


def memory_budget_gib(device: str, ram_gib: float | None) -> float:
    if ram_gib:
        return ram_gib
    if device.startswith("cuda"):
        return 0.9 * torch.cuda.get_device_properties(0).total_memory / 2**30
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return 0.8 * pages / 2**30


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def machine_line(device: str) -> str:
    where = (f"GPU {torch.cuda.get_device_name()}" if device.startswith("cuda")
             else f"{os.cpu_count()}-core {platform.machine()} CPU ({platform.processor() or 'unknown model'})")
    return (f"# benchmarks/fullsize.py on {datetime.date.today().isoformat()}, {where}, Python "
            f"{platform.python_version()}, torch {torch.__version__}; load average at start "
            f"{os.getloadavg()[0]:.1f} (other processes share the machine: timings are only as quiet as it was)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES),
                        help="families to measure (default all); none with --reuse: only rewrite the report")
    parser.add_argument("--config", default=str(ROOT / "configs" / "gpu_mix.yaml"),
                        help="generation config whose diffusion entries give steps, weights and call params")
    parser.add_argument("--probe-steps", type=int, default=1,
                        help="time the call at the smallest useful step count and at that plus this many")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats after one warm-up call each (default 3 on a GPU, 1 on a CPU)")
    parser.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu or cuda[:i]")
    parser.add_argument("--dtype", default="auto", help="auto = the backends' own (fp32 on CPU, fp16/bf16 on GPU)")
    parser.add_argument("--allow-cpu-bf16", action="store_true",
                        help="run a family in bf16 on a CPU when fp32 does not fit (slow without native bf16)")
    parser.add_argument("--ram-gib", type=float, default=None,
                        help="memory budget (default 80%% of RAM on CPU, 90%% of GPU memory on a GPU)")
    parser.add_argument("--size", default="640x480", help="photo size WxH (each family works at its own size)")
    parser.add_argument("--images", type=int, default=95_000, help="inpainted images of the SAGI-size build")
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--weights-dir", default="/tmp/fullsize-weights")
    parser.add_argument("--keep-weights", action="store_true", help="keep the saved random weights (GBs)")
    parser.add_argument("--out", default=None, help="results text (default benchmarks/results/fullsize.txt on a "
                        "CPU, fullsize_gpu.txt on a GPU; measurements also go to the .json beside it)")
    parser.add_argument("--plot", default=None, help="default docs/img/fullsize.png (CPU), fullsize_gpu.png (GPU)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child process")
    parser.add_argument("--reuse", action="store_true",
                        help="report the families not in --families from the measurements stored by earlier runs "
                             "(the .json beside --out), so families can be measured one at a time")
    args = parser.parse_args()

    import diffusers

    from inpaintbench.builder.backends.diffusion_common import resolve_device
    from inpaintbench.builder.config import GenerateConfig

    # The meta-device FLOP runs move VAEs between dtypes as the SDXL pipeline does; diffusers warns each time.
    diffusers.utils.logging.set_verbosity_error()

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    suffix = "_gpu" if cuda else ""  # a GPU run keeps the CPU figures and vice versa
    args.out = args.out or str(ROOT / "benchmarks" / "results" / f"fullsize{suffix}.txt")
    args.plot = args.plot or str(ROOT / "docs" / "img" / f"fullsize{suffix}.png")
    repeats = args.repeats or (3 if cuda else 1)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    budget = memory_budget_gib(device, args.ram_gib)
    config = GenerateConfig.from_file(args.config)
    entries = [(i, e, family_of(e)) for i, e in enumerate(config.backends)]
    store = Path(args.out).with_suffix(".json")
    stored = json.loads(store.read_text()) if args.reuse and store.exists() else {}
    stored = {f: row for f, row in stored.items() if f in FAMILIES and row.get("device", "").split(":")[0]
              == device.split(":")[0]}  # CPU rows never stand in for GPU ones
    # Every family is reported (FLOPs at least); those not in --families come from the store with --reuse.
    families = list(args.families) + [f for f in FAMILIES if f not in args.families]
    out: list[str] = [machine_line(device), ""]

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    say(f"device {device}, memory budget {budget:.1f} GiB, photo {size[0]}x{size[1]}, {repeats} timed repeat(s) "
        f"after one warm-up call each, this run's probe: smallest useful steps and +{args.probe_steps}; "
        f"random weights from configs/architectures")
    results: dict[str, dict] = {}
    for family in families:
        spec = FAMILIES[family]
        first = next((e for _, e, f in entries if f == family), None)
        params = run_params(first) if first is not None else {}
        counts = parameter_counts(family)
        n_params = sum(counts.values())
        low, high = probe_steps(family, params, size, args.probe_steps)
        entry_flops = {i: flops_for(family, run_params(e), run_params(e).get("steps", 50), size)
                       for i, e, f in entries if f == family}
        any_flops = next(iter(entry_flops.values()), None) or flops_for(family, params, 50, size)
        row = {"label": spec.label, "params_b": n_params / 1e9, "flops": any_flops, "entry_flops": entry_flops,
               "low": low, "high": high}
        results[family] = row
        dtype = args.dtype if args.dtype != "auto" else ("fp32" if not cuda else
                                                          {"sd3": "bf16", "flux": "bf16"}.get(family, "fp16"))
        need = n_params * BYTES[dtype] / 2**30 + ACTIVATION_ALLOWANCE_GIB
        if need > budget and not cuda and dtype == "fp32":
            half = n_params * 2 / 2**30 + ACTIVATION_ALLOWANCE_GIB
            if args.allow_cpu_bf16 and half <= budget:
                dtype, need = "bf16", half
            else:
                row["skipped"] = (f"needs ~{need:.1f} GiB in fp32 ({n_params / 1e9:.2f}B parameters + "
                                  f"{ACTIVATION_ALLOWANCE_GIB:.0f} GiB activations) > budget {budget:.1f} GiB"
                                  + (f"; bf16 would need {half:.1f} GiB (--allow-cpu-bf16)" if half <= budget else ""))
        elif need > budget:
            row["skipped"] = f"needs ~{need:.1f} GiB in {dtype} > budget {budget:.1f} GiB"
        if "skipped" in row:
            say(f"{family}: FLOPs only, not run: {row['skipped']}")
            continue
        if family not in args.families:
            if family in stored:
                row.update(stored[family])
                say(f"{family}: measured by an earlier run ({row.get('date', '?')}), reused")
            else:
                row["skipped"] = "not measured in this run (not in --families)"
            continue
        folder = Path(args.weights_dir) / family
        shutil.rmtree(folder, ignore_errors=True)
        try:
            say(f"{family}: building {n_params / 1e9:.2f}B parameters in {dtype} ...")
            torch_dtype = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[dtype]
            built = run_child("_materialize", {"family": family, "folder": str(folder), "torch_dtype": torch_dtype,
                                               "seed": 0, "device": device}, args.timeout)
            row["build_s"] = built["seconds"]
            say(f"{family}: built and saved in {built['seconds']:.0f} s; timing steps {low} and {high} ...")
            row.update(run_child("_measure", {
                "family": family, "params": built["params"], "run_params": params, "dtype": dtype, "device": device,
                "size": list(size), "low": low, "high": high, "repeats": repeats}, args.timeout))
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            row["skipped"] = f"run failed: {str(error).splitlines()[0]}"
            say(f"{family}: {error}")
        finally:
            if not args.keep_weights:
                shutil.rmtree(folder, ignore_errors=True)
        if "bare_high_s" in row:
            step = (row["bare_high_s"] - row["bare_low_s"]) / max(1, row["calls_high"] - row["calls_low"])
            row["step_s"] = step
            row["fixed_s"] = row["bare_low_s"] - row["calls_low"] * step
            row["overhead_s"] = row["ours_high_s"] - row["bare_high_s"]
            row["load_average"] = os.getloadavg()[0]
            row["repeats"] = repeats
            row["date"] = datetime.date.today().isoformat()
            stored[family] = {k: v for k, v in row.items() if k not in ("flops", "entry_flops")}
            store.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")  # after each family: a crash
            # or a later --reuse run keeps what was measured
            say(f"{family}: load average {row['load_average']:.1f}; "
                + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()
                              if k.endswith(("_s", "gib", "used")) or k.startswith("calls")}))

    results = {f: results[f] for f in FAMILIES if f in results}  # one order in every table and plot
    report(results, entries, config, args, cuda, say)
    Path(args.out).write_text("\n".join(out) + "\n")
    plot(results, args.plot, cuda)
    print(f"\nwrote {args.out} and {args.plot}")


def gpu_estimate_s(flops: float) -> float:
    return flops / (H100_BF16_DENSE_TFLOPS * 1e12 * ASSUMED_UTILISATION)


def report(results, entries, config, args, cuda: bool, say) -> None:
    where = "GPU" if cuda else "CPU"
    say()
    say(f"per family at the configured steps of {Path(args.config).name} (measured on this {where}; "
        "TFLOP counted on the meta device)")
    header = (f"{'family':<11}{'dtype':>9}{'working':>10}{'params':>8}{'load s':>8}{'s/step':>8}{'fixed s':>8}"
              f"{'probe':>9}{'steps':>6}{'s/image':>9}{'ours/bare':>10}{'+ours s':>8}{'peak GiB':>9}{'cores':>6}"
              f"{'TF/step':>8}"
              f"{'TF/image':>9}{'est H100 s':>11}")
    say(header)
    say("-" * len(header))
    for family, row in results.items():
        flops = row["flops"]
        calls = flops.denoiser_calls
        image_s = row["fixed_s"] + calls * row["step_s"] if "step_s" in row else None
        row["image_s"] = image_s
        working = "x".join(map(str, row["working"])) if "working" in row else "-"
        probe = f"{row['low']}-{row['high']} x{row['repeats']}" if "repeats" in row else "-"
        say(f"{family:<11}{row.get('dtype', '-'):>9}{working:>10}{row['params_b']:>7.2f}B"
            f"{fmt(row.get('load_s'), '.1f'):>8}{fmt(row.get('step_s'), '.2f'):>8}{fmt(row.get('fixed_s'), '.1f'):>8}"
            f"{probe:>9}{calls:>6}{fmt(image_s, '.1f'):>9}"
            f"{fmt(row['ours_high_s'] / row['bare_high_s'] if 'step_s' in row else None, '.3f'):>10}"
            f"{fmt(row.get('overhead_s'), '.2f'):>8}{fmt(row.get('peak_gib'), '.1f'):>9}"
            f"{fmt(row.get('cores_used'), '.2f'):>6}"
            f"{flops.per_step / 1e12:>8.2f}{flops.total / 1e12:>9.1f}{gpu_estimate_s(flops.total):>11.2f}")
    say("probe = the two step counts timed, x timed repeats (each after a warm-up call); "
        "steps = denoiser calls per image at the configured steps (SDXL's strength 0.99 drops one; the "
        "Kandinsky prior's 25 steps are in its fixed cost). ours/bare at the probe's larger step count; "
        "+ours s = what our backend adds per image (resize, paste-back/blend). cores = CPU seconds / wall "
        "seconds of the timed calls: the cores the run really got (a GPU run waits on the GPU: ~1).")
    for family, row in results.items():
        if "skipped" in row:
            say(f"  {family}: not run here: {row['skipped']}")
    say(f"  est H100 s = TFLOP per image / ({H100_BF16_DENSE_TFLOPS:.0f} TFLOPS dense BF16 peak x "
        f"{ASSUMED_UTILISATION:.0%} assumed sustained): an ESTIMATE, not a measurement.")

    # ---- SAGI-size build
    total_weight = sum(e.weight for _, e, _ in entries)
    say()
    say(f"SAGI-size build: {args.images:,} inpainted images split by the {Path(args.config).name} weights "
        f"(total weight {total_weight:g})")
    header = (f"{'entry':<34}{'share':>7}{'images':>8}{'steps':>6}{f'{where} s/img':>11}{f'{where} h':>9}"
              f"{'est GPU s/img':>14}{'est GPU h':>10}")
    say(header)
    say("-" * len(header))
    measured_h = est_h = 0.0
    measured_images = 0
    for i, entry, family in entries:
        share = entry.weight / total_weight
        images = args.images * share
        label = f"{i}:{entry.name}" + (f" ({family})" if family else "")
        if family is None or family not in results:
            note = "CPU, no model" if family is None else "family not benchmarked"
            say(f"{label:<34}{share:>7.1%}{images:>8.0f}{'':>6}{note:>11}")
            continue
        row = results[family]
        flops = row["entry_flops"].get(i, row["flops"])
        measured = (row["fixed_s"] + flops.denoiser_calls * row["step_s"] + row["overhead_s"]
                    if "step_s" in row else None)
        est = gpu_estimate_s(flops.total)
        if measured is not None:
            measured_h += images * measured / 3600
            measured_images += images
        est_h += images * est / 3600
        extra = " +ldm_sr x4 not counted" if entry.params.get("upscale") == "ldm_sr" else ""
        say(f"{label:<34}{share:>7.1%}{images:>8.0f}{flops.denoiser_calls:>6}{fmt(measured, '.1f'):>11}"
            f"{fmt(images * measured / 3600 if measured is not None else None, ',.0f'):>9}{est:>14.2f}"
            f"{images * est / 3600:>10,.1f}{extra}")
    families_in_mix = {f for _, _, f in entries if f in results}
    measured_load = sum(results[f].get("load_s", 0.0) for f in families_in_mix)
    all_loaded = all("load_s" in results[f] for f in families_in_mix)
    est_load = sum(results[f]["params_b"] * 1e9 * 2 for f in families_in_mix) / (ASSUMED_LOAD_GBPS * 1e9)
    say()
    if cuda:
        say(f"measured on this GPU: {measured_h:,.1f} GPU-hours of inference"
            + ("" if measured_images >= sum(args.images * e.weight / total_weight for _, e, f in entries if f)
               else " (families not run are missing from it)")
            + f"; each process loads every checkpoint of the mix once: {measured_load:.0f} s measured")
        for n in args.gpus:
            say(f"  {n:>3} GPU(s) with accelerate: {measured_h / n + measured_load / 3600:,.2f} h wall clock "
                f"({measured_h / n:,.2f} h inference + {measured_load / 60:.1f} min load per process)")
    else:
        say(f"CPU HOURS MEASURED HERE (fp32, {os.cpu_count()} cores): {measured_h:,.0f} CPU-hours for the "
            f"{measured_images:,.0f} images of the families run here ({measured_images / args.images:.0%} of the "
            f"build), plus {measured_load:.0f} s of measured model load"
            + ("" if all_loaded else " (families not run: not included)") + ".")
        say(f"GPU ESTIMATE (not measured): {est_h:,.1f} H100-hours of inference for all {args.images:,} images, from "
            f"the counted FLOPs at {ASSUMED_UTILISATION:.0%} of {H100_BF16_DENSE_TFLOPS:.0f} TFLOPS; per-process "
            f"load of all checkpoints in bf16 ({sum(results[f]['params_b'] for f in families_in_mix):.1f}B "
            f"parameters) estimated at {ASSUMED_LOAD_GBPS:g} GB/s: {est_load:.0f} s.")
        for n in args.gpus:
            say(f"  {n:>3} GPU(s) with accelerate (estimate): {est_h / n + est_load / 3600:,.2f} h wall clock "
                f"({est_h / n:,.2f} h inference + {est_load / 60:.1f} min load per process)")
        say("Replace these estimates by running the same command on a GPU machine: "
            "python benchmarks/fullsize.py   (device auto).")


def plot(results, path: str, cuda: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(results)
    where = "GPU" if cuda else "CPU"
    measured = [results[f].get("image_s") or 0.0 for f in families]
    estimated = [gpu_estimate_s(results[f]["flops"].total) for f in families]
    x = np.arange(len(families))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar(x - 0.2, measured, 0.4, label=f"measured on this {where} ({'native dtype' if cuda else 'fp32'})",
           color="#4c72b0")
    ax.bar(x + 0.2, estimated, 0.4, label=f"H100 estimate from FLOPs ({ASSUMED_UTILISATION:.0%} of bf16 peak)",
           color="#dd8452", hatch="//")
    for xi, value, est, family in zip(x, measured, estimated, families, strict=False):
        if value:
            ax.text(xi - 0.2, value * 1.15, f"{value:.0f} s", ha="center", va="bottom", fontsize=7)
        else:
            reason = results[family].get("skipped", "")
            ax.text(xi - 0.2, 0.012, "not run here\n(memory)" if "GiB" in reason else "not run here", ha="center",
                    va="bottom", fontsize=7, rotation=90)
        ax.text(xi + 0.2, est * 1.15, f"{est:.2g} s", ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(x, [f"{f}\n{results[f]['params_b']:.1f}B" for f in families])
    ax.set_ylabel("seconds per image at the configured steps")
    ax.set_title("Full-size architectures, random weights, 640x480 photo (benchmarks/fullsize.py)")
    ax.legend(fontsize=8)
    ax.set_ylim(0.01, max(measured + estimated) * 3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("_materialize", "_measure"):
        job = json.loads(sys.argv[2])
        result = (child_materialize if sys.argv[1] == "_materialize" else child_measure)(job)
        print("RESULT " + json.dumps(result), flush=True)
    else:
        main()
