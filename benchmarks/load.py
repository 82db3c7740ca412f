"""How fast a release loads: ``load_dataset`` rows/s on a local release folder, and streaming time to first sample.

    python benchmarks/load.py --data runs/embedded          # builds the release from a generator output first
    python benchmarks/load.py --release path/to/release     # an existing release folder
    python benchmarks/load.py --release R --hub              # also over HTTP, from the local Hub server

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

from inpaintbench.folders import read_release_summary

BENCH_REPO = "bench/inpaintbench"  # the repo id a benchmark-built release names (published only to the local server)


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
    build_release(load_generator_output(out_dir), config, dest, "0.0.0", BENCH_REPO)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", dest="from_dir", default="runs/embedded", metavar="DIR",
                        help="generator output to release first")
    source.add_argument("--release", help="an existing release folder (skips the build)")
    parser.add_argument(
        "--split-config", help="split config for the build (default builder/release/default_splits.yaml)"
    )
    parser.add_argument("--config", default="default", help="release config to load")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hub", action="store_true",
                        help="also publish to the local Hub server (tests/helpers/hub_server.py) and time loading "
                        "over HTTP")
    args = parser.parse_args(argv)

    hub = start_local_hub() if args.hub else None  # before datasets is imported: the clients read HF_ENDPOINT once
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
        t_warm, _ = median_time(
            lambda: datasets.load_dataset(str(release), args.config, cache_dir=str(warm_cache)), args.repeat
        )
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

        print(
            f"release {release} config {args.config!r}: {rows} rows, {len(files)} files, "
            f"{total_bytes / 2**20:.1f} MiB; "
            f"median of {args.repeat}"
        )
        print(f"{'measure':48s} {'seconds':>9s} {'rows/s':>10s} {'time/baseline':>14s}")

        def line(name, seconds, n=None, baseline=None):
            rate = f"{n / seconds:10.0f}" if n else " " * 10
            ratio = f"{seconds / baseline:13.1f}x" if baseline else ""
            print(f"{name:48s} {seconds:9.4f} {rate} {ratio}")

        line("baseline: pyarrow read_table, all files", t_arrow, rows)
        line("load_dataset, cold cache (Parquet->Arrow)", t_cold, rows, t_arrow)
        line("load_dataset, warm cache", t_warm, rows, t_arrow)
        line("baseline: PIL decode of the 3 images/row", t_decode, rows)
        line("iterate load_dataset rows, decoding images", t_iter, rows, t_decode)
        line("baseline: pyarrow first row group", t_first_group)
        line("streaming: time to first sample", t_stream, None, t_first_group)
        if hub is not None:
            hub_figures(hub, release, args.config, first_split, first_file, rows, work, args.repeat, line)
        return 0
    finally:
        if hub is not None:
            hub.stop()
        shutil.rmtree(work, ignore_errors=True)


def start_local_hub():
    """The project's local Hub HTTP server, with the env the real clients need (set before they are imported)."""
    import os

    sys.path.append(str(Path(__file__).resolve().parents[1]))  # the repository root: the server is a test helper
    from tests.helpers.hub_server import HubServer

    hub = HubServer().start()
    home = tempfile.mkdtemp(prefix="inpaintbench-load-bench-hf-")
    os.environ.update(HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_XET="1", HF_TOKEN="hf_local_bench", HF_HOME=home,
                      HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HUB_DISABLE_TELEMETRY="1", NO_PROXY="127.0.0.1,localhost")
    return hub


def hub_figures(hub, release, config, first_split, first_file, rows, work, repeat, line) -> None:
    """Over HTTP: load_dataset by revision (cold download) and streaming's first sample, against fetching the
    first file with hf_hub_download and reading its first row group (the least a client must do)."""

    import datasets
    import pyarrow.parquet as pq
    from huggingface_hub import hf_hub_download

    from inpaintbench.builder.release.publish import publish_release

    summary = read_release_summary(release)
    repo, version = summary.get("repo_id"), summary["version"]
    if not repo:
        print(
            f"{release}: built without a repo id; --hub needs one (build with `publish --repo R --out DIR`)",
            file=sys.stderr,
        )
        return
    tag = f"v{version}"
    publish_release(release, repo, version)
    counter = iter(range(10**6))

    def cold_load():
        ds = datasets.load_dataset(repo, config, revision=tag, cache_dir=str(work / f"hub-cache-{next(counter)}"))
        return sum(ds[s].num_rows for s in ds)

    def first_streamed():
        stream = datasets.load_dataset(repo, config, revision=tag, split=first_split, streaming=True)
        return next(iter(stream))["sample_id"]

    def baseline_first():
        path = hf_hub_download(repo, first_file.relative_to(release).as_posix(), repo_type="dataset", revision=tag,
                               cache_dir=str(work / f"hub-dl-{next(counter)}"))
        return pq.ParquetFile(path).read_row_group(0).num_rows

    t_cold, n = median_time(cold_load, repeat)
    assert n == rows, (n, rows)
    t_base, _ = median_time(baseline_first, repeat)
    t_stream, _ = median_time(first_streamed, repeat)
    print(f"over HTTP from the local Hub server ({hub.endpoint}), {repo} revision {tag}:")
    line("load_dataset by revision, cold download", t_cold, rows)
    line("baseline: hf_hub_download 1st file + row group", t_base)
    line("streaming over HTTP: time to first sample", t_stream, None, t_base)


if __name__ == "__main__":
    sys.exit(main())
