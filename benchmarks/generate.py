"""Generation speed against its models and its photos: per backend and for a fast-only mix, at two build sizes.

    .venv/bin/python benchmarks/generate.py                    # the whole table (~40 min on 2 cores)
    .venv/bin/python benchmarks/generate.py --sizes 60 --mixes telea --patchmatch-sizes --baseline-mixes
                                                               # a quick look: one row, no baseline

One row is one build (single process, fresh output folder) of one backend mix on one photo set:
- wall: ``run_generation`` from its call to its return.
- backend: the bare backend calls on the same requests, with nothing else running: the build's photos are
  prepared again (``SampleMaker.prepare_shard``, untimed) and ``run_shard`` sends each photo's edits for a
  backend as one batched call, as the build does, timed around the calls alone (``SampleMaker.backend_seconds``).
  Not the build's own call times: those run beside its worker thread and would grow with the overhead measured.
- decode: reading and decoding every photo into the pixels the generator uses (``open_image`` +
  ``normalize_image``: EXIF turn, sRGB, at most ``max_image_side``), timed alone.
- ratio = wall / (backend + decode): 1.00 is a build that costs nothing beyond its models and its photos. Each
  fast-mix row is ``--rounds`` rounds (build, lone calls, decoding, alternated; default 3) and shows the round with
  the median ratio, with the lowest and highest: the same lone calls vary by about 15% from run to run here.
- cpu, main: the build's CPU seconds, all threads and main thread; bk cpu: the lone backend calls' CPU seconds.
  The build overlaps its backend calls (main thread) with the rest (a worker thread, ``builder.shard_pipeline``),
  so its wall time approaches its main thread's only where a second core is free: on a shared machine, read the
  load column, and compare main with bk cpu and cpu with main (what the worker needs).
- baseline rows: the same build by the generator of ``BASELINE_REV`` (PIL's zlib-6 PNGs, the shards one after
  another on one thread), run from a ``git archive`` of that commit in a subprocess, over the same denominators.

Photos: ``benchmarks/derived_photos.py`` (the 15 embedded photos turned, mirrored and shrunk into up to 960
distinct ones, JPEG, annotations mapped exactly), max side 512, the generator's default config otherwise. Each
process warms up first (a 3-photo build: imports of scipy, datasets, pyarrow and the backends' first calls are
paid before any clock starts, as a long build pays them once). Patchmatch takes ~4 s a photo, so it runs on
fewer photos (``--patchmatch-sizes``).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

# The generator before issue 16 point 8 (PIL's PNG writer at zlib level 6, no pipeline).
BASELINE_REV = "c477983"
MIXES = {
    "telea": ["opencv_telea"],
    "ns": ["opencv_ns"],
    "telea+ns": ["opencv_telea", "opencv_ns"],
    "patchmatch": ["patchmatch"],
}
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "generate.txt"
MAX_SIDE = 512


def build_config(mix: str, images: Path, annotations: Path, out: Path) -> dict:
    return {"backends": [{"name": name} for name in MIXES[mix]], "max_image_side": MAX_SIDE, "out_dir": str(out),
            "sources": [{"type": "coco", "name": "photos", "images": str(images), "annotations": str(annotations)}]}


def timed_build(config: dict) -> dict:
    """Build ``config`` from scratch in this process; wall seconds and what it wrote."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation

    started, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
    result = run_generation(GenerateConfig.from_dict(config), progress=False)
    wall = time.perf_counter() - started
    shards = result.manifest["shards"]
    return {"wall": wall, "cpu": time.process_time() - cpu, "main": time.thread_time() - main,
            "samples": result.manifest["counts"]["total"], "shards": len(shards),
            "bytes": sum(shard["bytes"] for shard in shards), "inpainted": sum(result.backend_calls.values())}


def warm_up(images: Path, annotations: Path, mix: str) -> None:
    with tempfile.TemporaryDirectory(prefix="inpaintbench-warm-") as tmp:
        config = build_config(mix, images, annotations, Path(tmp) / "out")
        timed_build({**config, "max_images": 3})


def bare_backends(config: dict) -> tuple[float, float]:
    """Wall and CPU seconds of the build's backend calls made alone (see the module docstring)."""
    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.image_samples import SampleMaker
    from inpaintbench.builder.sources import build_sources
    from inpaintbench.builder.work import make_chunks, plan_work

    generate_config = GenerateConfig.from_dict(config)
    sources = build_sources(generate_config.sources, max_side=generate_config.max_image_side)
    maker = SampleMaker(generate_config, {source.name: source for source in sources})
    maker.load_backends()
    cpu = 0.0
    for chunk in make_chunks(plan_work(sources, generate_config.max_images), generate_config.images_per_shard):
        photos = maker.prepare_shard([(item.source, item.image_id) for item in chunk.items])
        started = time.thread_time()
        maker.run_shard(photos)
        cpu += time.thread_time() - started
    return sum(maker.backend_seconds.values()), cpu


def decode_seconds(images: Path, annotations: Path) -> float:
    """Seconds to read and decode every photo of the set into the generator's pixels, alone."""
    from inpaintbench.builder.image_io import DEFAULT_MAX_PIXELS, normalize_image, open_image

    names = [entry["file_name"] for entry in json.loads(annotations.read_text(encoding="utf-8"))["images"]]
    started = time.perf_counter()
    for name in names:
        raw = open_image(images / name, max_pixels=DEFAULT_MAX_PIXELS)
        normalize_image(raw, max_side=MAX_SIDE, path=str(images / name))
        raw.close()
    return time.perf_counter() - started


def export_baseline(rev: str, dest: Path) -> str | None:
    """The package as of ``rev``, importable from ``dest`` (PYTHONPATH); None when it cannot be had, with why."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "builder", "harness", "space",
                              "inpaintbench"], capture_output=True)
    if archive.returncode != 0:
        return f"git archive {rev}: {archive.stderr.decode(errors='replace').strip()}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    for sub in ("builder", "harness", "space"):  # the repo's layout shim (setup.py): inpaintbench.<sub> is <sub>/
        (dest / "inpaintbench" / sub).symlink_to(dest / sub, target_is_directory=True)
    return None


def baseline_build(tree: Path, config: dict, mix: str, images: Path, annotations: Path) -> dict:
    """``timed_build`` run by the exported generator in a subprocess (after its own warm-up)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    child = subprocess.run(
        [sys.executable, __file__, "--child-build", json.dumps({"config": config, "mix": mix, "images": str(images),
                                                                   "annotations": str(annotations)}), "--expect-tree",
         str(tree)], env=env, capture_output=True, text=True)
    if child.returncode != 0:
        raise RuntimeError(f"baseline build failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def child_build(spec: str, tree: str) -> int:
    import inpaintbench.builder

    if not Path(inpaintbench.builder.__file__).resolve().is_relative_to(Path(tree).resolve()):
        print(f"the baseline child imported {inpaintbench.builder.__file__}, not the tree {tree}", file=sys.stderr)
        return 2
    args = json.loads(spec)
    warm_up(Path(args["images"]), Path(args["annotations"]), args["mix"])
    print(json.dumps(timed_build(args["config"])))
    return 0


def median_round(
    rounds: list[tuple[dict, tuple[float, float], float]],
) -> tuple[dict, tuple[float, float], float, list[float]]:
    """The round with the median ratio (its own wall, backend and decode, so a row's columns belong together) and
    every round's ratio. The lone backend calls alone vary by +-15% from one run to the next on this shared
    machine (same calls, same photos), so one round's ratio can say 1.16x or 1.07x for the same build."""
    ratios = [build["wall"] / (backend[0] + decode) for build, backend, decode in rounds]
    middle = sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]
    return (*rounds[middle], ratios)


def row_text(name: str, photos: int, build: dict, backend: tuple[float, float], decode: float,
             ratios: list[float] | None = None) -> str:
    ratio = build["wall"] / (backend[0] + decode)
    spread = "-" if not ratios or len(ratios) < 2 else f"{min(ratios):.2f}-{max(ratios):.2f}"
    return (f"{name:<22}{photos:>7}{build['samples']:>8}{build['wall']:>8.1f}{backend[0]:>8.1f}{decode:>7.1f}"
            f"{ratio:>7.2f}{spread:>11}{build['cpu']:>8.1f}{build['main']:>8.1f}{backend[1]:>8.1f}"
            f"{os.getloadavg()[0]:>6.1f}{build['bytes'] / 1e6:>8.1f}{build['bytes'] / build['samples'] / 1e3:>7.0f}")


HEADER = (f"{'build':<22}{'photos':>7}{'samples':>8}{'wall':>8}{'backend':>8}{'decode':>7}{'ratio':>7}{'rounds':>11}"
          f"{'cpu':>8}{'main':>8}{'bk cpu':>8}{'load':>6}{'MB':>8}{'KB/smp':>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[240, 960], help="photos per build (fast mixes)")
    parser.add_argument("--mixes", nargs="*", default=["telea", "ns", "telea+ns"], choices=sorted(MIXES))
    parser.add_argument("--patchmatch-sizes", type=int, nargs="*", default=[8, 24], help="photos per patchmatch build")
    parser.add_argument("--baseline-mixes", nargs="*", default=["telea+ns"], choices=sorted(MIXES),
                        help=f"mixes also built by the generator of --baseline-rev (default {BASELINE_REV})")
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--rounds", type=int, default=3,
                        help="build + lone calls + decoding, alternated, this many times per fast-mix row; the row "
                             "is the round with the median ratio (patchmatch and baseline rows: one round)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the table is written ('-': nowhere)")
    parser.add_argument("--child-build", help=argparse.SUPPRESS)
    parser.add_argument("--expect-tree", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        return child_build(args.child_build, args.expect_tree)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from derived_photos import write_derived_set

    runs = [(mix, size) for size in args.sizes for mix in args.mixes]
    runs += [("patchmatch", size) for size in args.patchmatch_sizes]
    lines = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="inpaintbench-bench-") as tmp:
        tmp = Path(tmp)
        sets = {size: write_derived_set(tmp / f"photos{size}", size, max_side=MAX_SIDE)
                for size in sorted({size for _, size in runs})}
        tree = None
        if args.baseline_mixes:
            tree = tmp / "baseline"
            why = export_baseline(args.baseline_rev, tree)
            if why:
                print(f"no baseline: {why}", file=sys.stderr)
                tree = None
        warm_up(*sets[min(sets)], "telea+ns")
        print(HEADER, flush=True)
        for mix, size in runs:
            images, annotations = sets[size]
            rounds = []
            for round_index in range(1 if mix == "patchmatch" else max(1, args.rounds)):
                config = build_config(mix, images, annotations, tmp / f"out-{mix}-{size}-{round_index}")
                rounds.append((timed_build(config), bare_backends(config), decode_seconds(images, annotations)))
                shutil.rmtree(config["out_dir"])  # the disk holds one round's shards at a time
            build, backend, decode, ratios = median_round(rounds)
            lines.append(row_text(mix, size, build, backend, decode, ratios))
            print(lines[-1], flush=True)
            if tree is not None and mix in args.baseline_mixes:
                before = baseline_build(tree, {**config, "out_dir": str(tmp / f"base-{mix}-{size}")}, mix, images,
                                        annotations)
                lines.append(row_text(f"{mix} @{args.baseline_rev}", size, before, backend, decode))
                print(lines[-1], flush=True)
    load_after = os.getloadavg()

    header = (f"# benchmarks/generate.py on {datetime.date.today()}, {os.cpu_count()}-core {platform.machine()} CPU, "
              f"Python {platform.python_version()}, load average {load_before[0]:.1f} at start, "
              f"{load_after[0]:.1f} at end (1 min)")
    legend = (
        "# seconds. wall: the build; backend: the same backend calls alone; decode: the photos decoded alone; "
        "ratio = wall / (backend + decode), from the round with the median ratio; rounds: the lowest and highest of "
        f"{args.rounds} rounds (build, lone calls and decoding alternated; one for patchmatch and the baseline: "
        "the lone calls alone vary by about 15% between runs here); cpu: the build's CPU time, all threads; "
        "main: its main thread's "
        "(backend calls and bookkeeping); bk cpu: the lone backend calls' CPU time; load: 1-min load average "
        "after the row (the ratio needs a free core for the worker thread: above ~1 other runnable process "
        "it measures the neighbours). Photos: benchmarks/derived_photos.py, max side 512. "
        f"'@{args.baseline_rev}': the generator before issue 16 point 8 (PIL zlib-6 PNGs, no pipeline)."
    )
    text = "\n".join([header, legend, "", HEADER, *lines]) + "\n"
    if str(args.results) != "-":
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text, encoding="utf-8")
        print(f"written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
