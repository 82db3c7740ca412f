"""Shards in a pipeline: while this thread runs one shard's backend calls, a worker thread prepares the next shard
and finishes the previous one.

Each shard goes through three stages: ``prepare`` (load and decode its photos, select objects, make masks and
plans, fingerprint the photos), ``run`` (the backend calls) and ``finish`` (assemble the rows, encode the PNGs,
write the shard and its record). Only ``run`` holds the models, so it stays on the calling thread, in shard
order; ``prepare`` and ``finish`` go to one worker thread, in the order prepare(0), prepare(1), finish(0),
prepare(2), finish(1), ...: each kind of stage still sees the shards one after another and in shard order, as in
a plain loop. With the fast OpenCV backends the other stages cost about as much CPU as the backend calls, so
overlapping them on a second core is what brings a build near the time of its backend calls (issue 16, point 8;
benchmarks/generate.py).

What a shard holds is unchanged: each stage is a function of its shard alone (photos, seeds, config), never of
timing, so the bytes are those of a plain loop (tests/test_generate.py compares). Errors: a stage that raises
stops the pipeline at the next shard boundary and the error is raised here; on any exit, the worker's stage in
progress completes (a shard is written whole or not at all, ``atomic_io``) and stages not started are dropped,
so an interrupted build resumes like before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Chunk = TypeVar("Chunk")


def run_pipeline(
    chunks: Sequence[Chunk],
    prepare: Callable[[Chunk], object],
    run: Callable[[Chunk, object], object],
    finish: Callable[[Chunk, object, object], object],
    done: Callable[[Chunk, object], None],
) -> None:
    """For each chunk, in order: ``prepared = prepare(chunk)`` and ``finished = finish(chunk, prepared, ran)`` on
    the worker thread, ``ran = run(chunk, prepared)`` and ``done(chunk, finished)`` on this one."""
    if not chunks:
        return
    worker = ThreadPoolExecutor(1, thread_name_prefix="shard-worker")
    finishing: deque[tuple[Chunk, Future]] = deque()

    def collect(block: bool) -> None:
        while finishing and (block or finishing[0][1].done()):
            chunk, future = finishing.popleft()
            done(chunk, future.result())  # raises the worker's error here, on this thread

    try:
        next_prepared = worker.submit(prepare, chunks[0])
        for index, chunk in enumerate(chunks):
            prepared = next_prepared.result()
            if index + 1 < len(chunks):
                next_prepared = worker.submit(prepare, chunks[index + 1])
            ran = run(chunk, prepared)
            finishing.append((chunk, worker.submit(finish, chunk, prepared, ran)))
            del prepared, ran  # the worker holds them until the shard is written
            collect(block=False)
        collect(block=True)
    finally:
        worker.shutdown(wait=True, cancel_futures=True)
