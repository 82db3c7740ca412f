"""How fast a release loads: ``load_dataset`` rows/s on a local release folder, and streaming time to first sample.

    python benchmarks/load.py --from runs/embedded          # builds the release from a generator output first
    python benchmarks/load.py --release path/to/release     # an existing release folder

Every figure comes with a baseline measured in the same run on the same files, so ratios stay meaningful on a
busy machine:

- ``load_dataset`` cold (fresh cache: Parquet -> Arrow cache) and warm (cache hit), in rows/s, against
  **pyarrow.parquet.read_table** of the same files (the raw read floor);
- full iteration with image decoding (what a training loop pays), in rows/s, against decoding the same PNG
  bytes with PIL straight from the Arrow table;
- streaming time to first sample (``streaming=True``, ``next(iter(...))``), against reading the first row
  group of the first file with pyarrow.

Each measurement is repeated (``--repeat``) and the median reported.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def build_release_from(out_dir: Path, dest: Path, split_config: str | None) -> Path:
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import build_release
    from inpaintbench.builder.release.splits import default_split_config_path, load_split_config

    config = load_split_config(split_config or default_split_config_path())
    build_release(load_generator_output(out_dir), config, dest, "0.0.0", None)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--from", dest="from_dir", default="runs/embedded", help="generator output to release first")
    source.add_argument("--release", help="an existing release folder (skips the build)")
    parser.add_argument("--split-config", help="split config for the build (default configs/splits.yaml)")
    parser.add_argument("--config", default="default", help="release config to load")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import datasets
    import pyarrow.parquet as pq
    from PIL import Image

    datasets.disable_progress_bars()
    work = Path(tempfile.mkdtemp(prefix="inpaintbench-load-bench-"))
    try:
        if args.release:
            release = Path(args.release)
        else:
            start = time.perf_counter()
            release = build_release_from(Path(args.from_dir), work / "release", args.split_config)
            print(f"built release from {args.from_dir} in {time.perf_counter() - start:.2f} s")
        files = sorted((release / "data" / args.config).glob("*.parquet"))
        if not files:
            print(f"{release}: no Parquet files for config {args.config!r}", file=sys.stderr)
            return 1
        total_bytes = sum(f.stat().st_size for f in files)

        # Raw floor: pyarrow reads every file.
        t_arrow, rows = median_time(lambda: sum(pq.read_table(f).num_rows for f in files), args.repeat)

        counter = iter(range(10**6))

        def cold():
            cache = work / f"cache-{next(counter)}"
            ds = datasets.load_dataset(str(release), args.config, cache_dir=str(cache))
            return sum(ds[s].num_rows for s in ds)

        t_cold, cold_rows = median_time(cold, args.repeat)
        warm_cache = work / "cache-warm"
        datasets.load_dataset(str(release), args.config, cache_dir=str(warm_cache))
        t_warm, _ = median_time(lambda: datasets.load_dataset(str(release), args.config, cache_dir=str(warm_cache)), args.repeat)
        if cold_rows != rows:
            print(f"row count mismatch: load_dataset {cold_rows}, pyarrow {rows}", file=sys.stderr)
            return 1

        # Iterating with image decoding, against PIL on the same bytes.
        loaded = datasets.load_dataset(str(release), args.config, cache_dir=str(warm_cache))

        def iterate():
            n = 0
            for split in loaded:
                for row in loaded[split]:
                    row["image"].load()
                    row["mask"].load()
                    row["original"].load()
                    n += 1
            return n

        def decode_raw():
            n = 0
            for f in files:
                table = pq.read_table(f, columns=["image", "mask", "original"])
                for column in ("image", "mask", "original"):
                    for cell in table.column(column).to_pylist():
                        Image.open(io.BytesIO(cell["bytes"])).load()
                n += table.num_rows
            return n

        t_iter, _ = median_time(iterate, args.repeat)
        t_decode, _ = median_time(decode_raw, args.repeat)

        # Streaming: time to the first sample, against pyarrow reading the first row group.
        first_split = sorted(loaded)[0]

        def first_streamed():
            stream = datasets.load_dataset(str(release), args.config, split=first_split, streaming=True)
            return next(iter(stream))["sample_id"]

        first_file = sorted((release / "data" / args.config).glob(f"{first_split}-*.parquet"))[0]
        t_stream, _ = median_time(first_streamed, args.repeat)
        t_first_group, _ = median_time(lambda: pq.ParquetFile(first_file).read_row_group(0).num_rows, args.repeat)

        print(f"release {release} config {args.config!r}: {rows} rows, {len(files)} files, {total_bytes / 2**20:.1f} MiB; "
              f"median of {args.repeat}")
        print(f"{'measure':44s} {'seconds':>9s} {'rows/s':>10s} {'time/baseline':>14s}")

        def line(name, seconds, n=None, baseline=None):
            rate = f"{n / seconds:10.0f}" if n else " " * 10
            ratio = f"{seconds / baseline:13.1f}x" if baseline else ""
            print(f"{name:44s} {seconds:9.4f} {rate} {ratio}")

        line("baseline: pyarrow read_table, all files", t_arrow, rows)
        line("load_dataset, cold cache (Parquet->Arrow)", t_cold, rows, t_arrow)
        line("load_dataset, warm cache", t_warm, rows, t_arrow)
        line("baseline: PIL decode of the 3 images/row", t_decode, rows)
        line("iterate load_dataset rows, decoding images", t_iter, rows, t_decode)
        line("baseline: pyarrow first row group", t_first_group)
        line("streaming: time to first sample", t_stream, None, t_first_group)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
