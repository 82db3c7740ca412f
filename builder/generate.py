"""The generation run: plan -> this process's chunks -> shards (skipping complete ones) -> manifest.

Works the same in a plain process and under ``accelerate launch`` with N processes (``accelerate.PartialState``
is a single process when not launched). Each process writes its own shards; which shards exist and what they hold
does not depend on N (see ``builder.work``). The main process writes ``manifest.json`` after
``wait_for_everyone``, from the shard records only. Within a process the shards go through a pipeline
(``builder.shard_pipeline``): one shard's backend calls run on the main thread while a worker thread prepares the
next shard (photos, masks, plans) and finishes the previous one (rows, PNGs, the shard file and its record).

Output directory layout:
- ``data/train-XXXXX-of-YYYYY.parquet``: the shards.
- ``manifest.json``: see ``builder.manifest``.
- ``work/config.json``: the config and its hash, claiming the directory for that config (resume / refusal).
- ``work/shards/<shard>.json``: one record per complete shard (``builder.shards.ShardRecord``).
- ``work/run_log.jsonl``: timings per shard and process (not deterministic, hence outside the manifest).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from inpaintbench.atomic_io import atomic_write_json, remove_stale_temp_files

from .config import GenerateConfig
from .image_samples import SampleMaker
from .manifest import build_manifest, write_manifest
from .rank_watchdog import arm as arm_rank_watchdog
from .shard_pipeline import run_pipeline
from .shards import ShardRecord, complete_record, load_record, sample_summary, write_record, write_shard
from .work import Chunk, chunks_for_process, input_fingerprints, make_chunks, plan_work
from .writer_lock import WriterLock

DATA_DIR = "data"
WORK_DIR = "work"


class OutputDirConflict(RuntimeError):
    """The output directory holds a build of a different config: never mixed, never overwritten."""


@dataclass
class GenerateResult:
    out_dir: Path
    manifest_path: Path | None  # set on the main process
    manifest: dict[str, Any] | None
    shards_written: int  # by all processes, in this run
    shards_reused: int  # complete from an earlier run, so skipped (all processes)
    backend_seconds: dict[str, float] = field(default_factory=dict)  # this process's time inside backend.inpaint
    backend_calls: dict[str, int] = field(default_factory=dict)


def _record_path(out_dir: Path, chunk: Chunk) -> Path:
    return out_dir / WORK_DIR / "shards" / (Path(chunk.shard_name).stem + ".json")


def _chunk_items(chunk: Chunk) -> list[list[str]]:
    return [[item.source, item.image_id] for item in chunk.items]


def claim_output_dir(out_dir: Path, config: GenerateConfig, inputs: dict[str, Any], is_main: bool) -> None:
    """Refuse a directory claimed by another config or other inputs; the main process claims a fresh one."""
    claim = out_dir / WORK_DIR / "config.json"
    if claim.is_file():
        try:
            existing = json.loads(claim.read_text(encoding="utf-8"))
            existing_hash = existing["config_hash"]
            existing_inputs = existing["inputs"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise OutputDirConflict(
                f"{claim}: unreadable ({error}); remove {out_dir} or choose another --out"
            ) from None
        if existing_hash != config.config_hash:
            changed = sorted(
                key
                for key in set(existing.get("config", {})) | set(config.hashed_dict())
                if existing.get("config", {}).get(key) != config.hashed_dict().get(key)
            )
            raise OutputDirConflict(
                f"{out_dir} holds a build of another config (hash {existing_hash[:12]}, this one "
                f"{config.config_hash[:12]}; differing keys: {', '.join(changed) or 'unknown'}). "
                "Use another --out, or delete that directory to rebuild."
            )
        if existing_inputs != inputs:
            changed = sorted(n for n in set(existing_inputs) | set(inputs) if existing_inputs.get(n) != inputs.get(n))
            raise OutputDirConflict(
                f"{out_dir} holds a build of the same config but the inputs changed since (source(s) "
                f"{', '.join(changed)}: images added, removed or re-annotated). Use another --out, or delete "
                "that directory to rebuild."
            )
        return
    if not is_main:
        return
    if (out_dir / DATA_DIR).is_dir() and any((out_dir / DATA_DIR).glob("*.parquet")):
        raise OutputDirConflict(f"{out_dir / DATA_DIR} holds shards but no {claim}: not a build of ours to resume")
    atomic_write_json(claim, {"config_hash": config.config_hash, "config": config.hashed_dict(), "inputs": inputs})


def _log(out_dir: Path, entry: dict[str, Any]) -> None:
    # O_APPEND keeps each small line whole even with several processes appending.
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(out_dir / WORK_DIR / "run_log.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class SingleProcessState:
    """A plain, unlaunched process: the part of ``PartialState`` the run uses, without importing torch.

    Importing accelerate pulls in torch (4-10 s here), which a run of weight-free backends never needs.
    """

    process_index: int = 0
    num_processes: int = 1
    is_main_process: bool = True

    def wait_for_everyone(self) -> None:
        pass


def _launched() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 or "LOCAL_RANK" in os.environ


def make_state():
    """The process state: one plain process, or this process's rank under ``accelerate launch`` (``PartialState``).

    On a machine without an accelerator, ``PartialState()`` ignores a multi-process launch unless told to use the
    CPU, and every process would then run the whole job alone. So the CPU is chosen when ACCELERATE_USE_CPU is
    set or no CUDA device exists under a multi-process launch, and a mismatch with WORLD_SIZE is refused.
    """
    if not _launched():
        return SingleProcessState()
    arm_rank_watchdog()  # a rank stops when its launcher dies, before anything can block (rank_watchdog)
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    cpu = parse_flag_from_env("ACCELERATE_USE_CPU") or (world_size > 1 and not torch.cuda.is_available())
    state = PartialState(cpu=cpu)
    if state.num_processes != world_size:
        raise RuntimeError(
            f"launched as {world_size} processes (WORLD_SIZE) but accelerate set up {state.num_processes}; "
            "for CPU processes set ACCELERATE_USE_CPU=1 and pass --multi_gpu (docs/generation.md, section Launching)"
        )
    return state


def run_generation(
    config: GenerateConfig,
    *,
    state=None,
    sources: Sequence[Any] | None = None,
    progress: bool = True,
) -> GenerateResult:
    """Run (or resume) the build described by ``config``. ``sources`` overrides ``config.sources`` (tests).

    The main process holds ``<out>/work/writer.lock`` for the whole run (``writer_lock``): a second run on the same
    folder stops at once."""
    if state is None:
        state = make_state()
    lock = WriterLock(Path(config.out_dir) / WORK_DIR).acquire() if state.is_main_process else None
    try:
        return _run_generation(config, state, sources, progress)
    finally:
        if lock is not None:
            lock.release()


def _run_generation(config: GenerateConfig, state, sources: Sequence[Any] | None, progress: bool) -> GenerateResult:
    out_dir = Path(config.out_dir)
    if sources is None:
        from .sources import build_sources

        sources = build_sources(config.sources, max_side=config.max_image_side)
    items = plan_work(sources, config.max_images)
    chunks = make_chunks(items, config.images_per_shard)
    inputs = input_fingerprints(sources)

    claim_output_dir(out_dir, config, inputs, state.is_main_process)
    if state.is_main_process:
        # Only before the barrier: afterwards another process's live temp file could look stale.
        for directory in (out_dir, out_dir / DATA_DIR, out_dir / WORK_DIR, out_dir / WORK_DIR / "shards"):
            remove_stale_temp_files(directory)
    state.wait_for_everyone()
    claim_output_dir(out_dir, config, inputs, state.is_main_process)  # every process sees the claim now

    mine = chunks_for_process(chunks, state.process_index, state.num_processes)
    maker = SampleMaker(config, {source.name: source for source in sources})
    written = reused = 0
    bar = tqdm(
        total=sum(len(c.items) for c in mine),
        desc=f"generate ({state.num_processes} proc)" if state.num_processes > 1 else "generate",
        unit="img",
        disable=not (progress and state.is_main_process),
    )
    samples_done = skipped_done = 0
    todo = []
    for chunk in mine:
        if complete_record(out_dir, _record_path(out_dir, chunk), config.config_hash, _chunk_items(chunk)) is not None:
            reused += 1
            bar.update(len(chunk.items))
        else:
            todo.append(chunk)
    if todo:
        maker.load_backends()  # only once there is work: a finished run resumes without loading models

    def prepare(chunk: Chunk):
        return time.perf_counter(), maker.prepare_shard([(item.source, item.image_id) for item in chunk.items])

    def run(chunk: Chunk, prepared):
        def on_edits(backend: str, done: int, total: int) -> None:
            bar.set_postfix(samples=samples_done, skipped=skipped_done, shard=f"{backend} {done}/{total}")

        residency_before = maker.models.log.as_dict()
        outcomes = maker.run_shard(prepared[1], on_edits)
        # Model builds, moves and evictions during this shard (builder.residency): at most one per backend per
        # shard, which is what the issue of fitting the mix on one card asks for.
        return outcomes, _residency_delta(residency_before, maker.models.log.as_dict())

    def finish(chunk: Chunk, prepared, ran):
        (started, photos), (outcomes, residency) = prepared, ran
        made = maker.finish_shard(photos, outcomes)
        shard_rel = f"{DATA_DIR}/{chunk.shard_name}"
        sha256, size = write_shard(made.rows, out_dir / shard_rel)
        record = ShardRecord(
            config_hash=config.config_hash,
            chunk_index=chunk.index,
            num_chunks=chunk.num_chunks,
            path=shard_rel,
            items=_chunk_items(chunk),
            sha256=sha256,
            bytes=size,
            samples=[sample_summary(row) for row in made.rows],
            skipped=made.skipped,
            photos=made.photos,
        )
        write_record(record, _record_path(out_dir, chunk))
        # seconds: from the start of the shard's preparation to its record (other shards' stages overlap it).
        _log(out_dir, {"shard": shard_rel, "process": state.process_index, "samples": len(made.rows),
                       "seconds": round(time.perf_counter() - started, 3), "bytes": size, "residency": residency})
        return len(made.rows), len(made.skipped)

    def done(chunk: Chunk, counts: tuple[int, int]) -> None:
        nonlocal written, samples_done, skipped_done
        written += 1
        samples_done += counts[0]
        skipped_done += counts[1]
        bar.update(len(chunk.items))
        bar.set_postfix(samples=samples_done, skipped=skipped_done, refresh=False)

    with bar:
        # Shard k's backend calls on this thread while a worker prepares shard k+1 and finishes shard k-1.
        run_pipeline(todo, prepare, run, finish, done)

    state.wait_for_everyone()  # every shard is written before the main process reads the records
    if state.num_processes > 1:
        # Every process's shard counts, so the summary speaks for the whole run.
        from accelerate.utils import gather_object

        counts = gather_object([(written, reused)])
        written, reused = sum(c[0] for c in counts), sum(c[1] for c in counts)
    manifest = manifest_path = None
    if state.is_main_process:
        records = []
        for chunk in chunks:
            record = complete_record(out_dir, _record_path(out_dir, chunk), config.config_hash, _chunk_items(chunk))
            if record is None:
                raise RuntimeError(f"shard {chunk.shard_name} is missing or incomplete after all processes finished")
            records.append(record)
        manifest = build_manifest(config, records, num_images=len(items), inputs=inputs)
        manifest_path = write_manifest(out_dir, manifest)
    return GenerateResult(
        out_dir=out_dir,
        manifest_path=manifest_path,
        manifest=manifest,
        shards_written=written,
        shards_reused=reused,
        backend_seconds=dict(maker.backend_seconds),
        backend_calls=dict(maker.backend_calls),
    )


def _residency_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    for key in ("builds", "moves_in", "evictions"):
        counts = {str(i): n - before[key].get(i, 0) for i, n in after[key].items() if n != before[key].get(i, 0)}
        if counts:
            delta[key] = counts
    delta["seconds"] = round(after["seconds"] - before["seconds"], 3)
    return delta


def read_records(out_dir: str | Path) -> list[ShardRecord]:
    """Every shard record in an output directory, in shard order (for tools that inspect a build)."""
    paths = sorted((Path(out_dir) / WORK_DIR / "shards").glob("*.json"))
    return sorted((load_record(p) for p in paths), key=lambda r: r.chunk_index)
