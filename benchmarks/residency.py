"""Peak memory of a 3-model diffusion mix: one model resident at a time against all resident, in one run.

Three SD 1.5 inpainting checkpoints at their published size (859.5M-parameter UNet, CLIP ViT-L text encoder, VAE),
each with its own random weights (benchmarks/fullsize_models.py; compute and memory do not depend on weight values),
are saved to disk and named by three entries of a generation mix. The same build then runs in a fresh process per
setting (peaks must not mix):

- baseline: ``max_resident_models: 3`` (every model stays loaded: what the generator did before it ran shards
  backend by backend);
- ``max_resident_models: 1`` (``offload: auto``, which on the CPU unloads the others).

Reported per setting: peak resident memory of the process (ru_maxrss), wall time, model builds and evictions
(from the run log), and whether the shards are byte-identical across settings.

    .venv/bin/python benchmarks/residency.py [--images 3] [--steps 1] [--weights /tmp/fullsize-weights/residency]

Needs ~13 GB of free memory for the baseline and ~13 GB of disk for the weights (deleted unless --keep).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTRIES = 3


def child(args: argparse.Namespace) -> int:
    """One build in this process; prints a JSON line with what the parent reports."""
    import torch

    from inpaintbench.builder.config import GenerateConfig
    from inpaintbench.builder.generate import run_generation

    torch.set_num_threads(2)
    weights = [json.loads(Path(args.weights, f"entry{i}.json").read_text()) for i in range(ENTRIES)]
    config = GenerateConfig.from_dict({
        "max_images": args.images, "objects_per_image": 2, "pristine_ratio": 0.0, "max_image_side": 512,
        "samples_per_shard": 3 * args.images,  # one shard: "at most once per shard" is then the whole run
        "backends": [{"name": "sd_inpaint", "weight": 1, "params": {**w, "steps": args.steps}} for w in weights],
        "out_dir": args.out, "max_resident_models": args.max_resident,
    })
    started = time.perf_counter()
    result = run_generation(config, progress=False)
    wall = time.perf_counter() - started
    log = [json.loads(line) for line in (Path(args.out) / "work" / "run_log.jsonl").read_text().splitlines()]
    print(json.dumps({
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,  # KiB on Linux
        "wall": wall, "calls": result.backend_calls, "backend_seconds": sum(result.backend_seconds.values()),
        "residency": [entry["residency"] for entry in log],
    }))
    return 0


def materialize_entries(folder: Path) -> None:
    sys.path.insert(0, str(HERE))
    from fullsize_models import materialize

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(ENTRIES):
        marker = folder / f"entry{index}.json"
        if marker.is_file():
            continue
        started = time.perf_counter()
        params = materialize("sd", folder / f"entry{index}", seed=index + 1)
        marker.write_text(json.dumps(params))
        print(f"materialised SD 1.5 inpainting #{index} (seed {index + 1}) in {time.perf_counter() - started:.0f} s",
              flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--weights", default="/tmp/fullsize-weights/residency")
    parser.add_argument("--keep", action="store_true", help="keep the saved weights")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--max-resident", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    import torch

    weights = Path(args.weights)
    materialize_entries(weights)
    results, files = {}, {}
    with tempfile.TemporaryDirectory(prefix="residency-") as tmp:
        for max_resident in (ENTRIES, 1):
            out = Path(tmp) / f"resident{max_resident}"
            command = [sys.executable, __file__, "--child", "--weights", str(weights), "--images", str(args.images),
                       "--steps", str(args.steps), "--out", str(out), "--max-resident", str(max_resident)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            results[max_resident] = json.loads(done.stdout.strip().splitlines()[-1])
            files[max_resident] = {p.name: p.read_bytes() for p in sorted((out / "data").glob("*.parquet"))}
    if not args.keep:
        shutil.rmtree(weights, ignore_errors=True)

    print(f"\n{ENTRIES} SD 1.5 inpainting checkpoints (full size, random weights, fp32, CPU), torch "
          f"{torch.__version__}; {args.images} photos at 512 px, 2 objects each, {args.steps} denoising step(s)")
    header = f"{'max_resident_models':<22}{'peak GiB':>10}{'wall s':>9}{'backend s':>11}{'builds':>8}{'evictions':>11}"
    print(header)
    print("-" * len(header))
    for max_resident, r in results.items():
        builds = sum(sum(e.get("builds", {}).values()) for e in r["residency"])
        evictions = sum(sum(e.get("evictions", {}).values()) for e in r["residency"])
        label = f"{max_resident}" + (" (baseline: all)" if max_resident == ENTRIES else "")
        print(f"{label:<22}{r['peak_gib']:>10.2f}{r['wall']:>9.1f}{r['backend_seconds']:>11.1f}{builds:>8}{evictions:>11}")
    ratio = results[1]["peak_gib"] / results[ENTRIES]["peak_gib"]
    print(f"peak memory, 1 resident / all resident: {ratio:.2f}x")
    print(f"sd_inpaint calls (all three entries): {results[1]['calls']}")
    print(f"shards byte-identical across the two settings: {'yes' if files[1] == files[ENTRIES] else 'NO'}")
    return 0 if files[1] == files[ENTRIES] else 1


if __name__ == "__main__":
    sys.exit(main())
