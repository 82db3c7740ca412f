"""Generation speed: images/s per backend, and our overhead against the bare backend calls, in one run.

    .venv/bin/python benchmarks/generate.py                  # the embedded default build, in a temp dir
    .venv/bin/python benchmarks/generate.py --max-images 4   # any `inpaintbench generate` flag works

Baseline: the sum of the bare ``backend.inpaint`` calls of this very run (timed around each call). The ratio
``pipeline wall time / that sum`` is what everything else costs (loading and normalising photos, selection,
masks, planning, PNG encoding, Parquet writing, hashing); 1.00 would mean no overhead at all.
Always builds from scratch (a fresh output dir), single process, so no shard is reused from an earlier run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from inpaintbench.builder.generate import run_generation
    from inpaintbench.builder.generate_cli import config_from_args, register
    import inpaintbench.builder.sources  # noqa: F401  (imported before the clock starts: timing work, not imports)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory(prefix="inpaintbench-bench-") as tmp:
        if args.out is None:
            args.out = str(Path(tmp) / "out")
        config = config_from_args(args)
        if Path(config.out_dir).exists():
            print(f"error: {config.out_dir} exists; the benchmark needs a fresh output dir", file=sys.stderr)
            return 2
        started = time.perf_counter()
        result = run_generation(config, progress=not args.no_progress)
        wall = time.perf_counter() - started
        counts = result.manifest["counts"]
        total_bytes = sum(shard["bytes"] for shard in result.manifest["shards"])

    backend_total = sum(result.backend_seconds.values())
    inpainted = sum(result.backend_calls.values())
    print(f"\nimages: {result.manifest['work']['images']}, samples: {counts['total']} "
          f"({inpainted} inpainted), shards: {len(result.manifest['shards'])} ({total_bytes / 1e6:.1f} MB), "
          f"max side {config.max_image_side} px, 1 process")
    print(f"{'backend':<16}{'calls':>7}{'seconds':>10}{'images/s':>10}")
    for name in sorted(result.backend_seconds):
        seconds, calls = result.backend_seconds[name], result.backend_calls[name]
        print(f"{name:<16}{calls:>7}{seconds:>10.2f}{calls / seconds if seconds else float('nan'):>10.2f}")
    print(f"{'all backends':<16}{inpainted:>7}{backend_total:>10.2f}"
          f"{inpainted / backend_total if backend_total else float('nan'):>10.2f}")
    print(f"{'whole pipeline':<16}{counts['total']:>7}{wall:>10.2f}{counts['total'] / wall:>10.2f}  (samples/s)")
    ratio = wall / backend_total if backend_total else float("nan")
    print(f"overhead: pipeline wall time / bare backend.inpaint time = {wall:.2f} / {backend_total:.2f} = {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
