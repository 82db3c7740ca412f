"""The shard pipeline (builder/shard_pipeline.py): stages in shard order, backend calls on the calling thread while
the worker prepares and finishes other shards, errors raised where the run can stop, and a build that is byte for
byte what a plain loop over the shards writes."""

from __future__ import annotations

import threading

import pytest

from inpaintbench.builder.config import GenerateConfig
from inpaintbench.builder.generate import run_generation
from inpaintbench.builder.image_samples import SampleMaker
from inpaintbench.builder.shard_pipeline import run_pipeline
from inpaintbench.builder.shards import write_shard
from inpaintbench.builder.sources import build_sources
from inpaintbench.builder.work import make_chunks, plan_work
from tests.helpers.generate_fixtures import SMALL_PHOTO_CONFIG, coco_source_spec, write_coco_set

WAIT = 20  # seconds: far beyond any stage here; reaching it means the pipeline did not overlap


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, str]] = []  # (stage, chunk, thread name)
        self.lock = threading.Lock()

    def __call__(self, stage: str, chunk: int) -> None:
        with self.lock:
            self.events.append((stage, chunk, threading.current_thread().name))

    def order(self, stage: str) -> list[int]:
        return [chunk for kind, chunk, _ in self.events if kind == stage]

    def threads(self, stage: str) -> set[str]:
        return {thread for kind, _, thread in self.events if kind == stage}


def stages(record: Recorder):
    def prepare(chunk):
        record("prepare", chunk)
        return f"prepared {chunk}"

    def run(chunk, prepared):
        assert prepared == f"prepared {chunk}"
        record("run", chunk)
        return f"ran {chunk}"

    def finish(chunk, prepared, ran):
        assert (prepared, ran) == (f"prepared {chunk}", f"ran {chunk}")
        record("finish", chunk)
        return chunk * 10

    def done(chunk, finished):
        assert finished == chunk * 10
        record("done", chunk)

    return prepare, run, finish, done


def test_every_stage_runs_once_per_chunk_in_order_and_only_run_and_done_on_the_calling_thread():
    record = Recorder()
    run_pipeline(list(range(7)), *stages(record))
    for stage in ("prepare", "run", "finish", "done"):
        assert record.order(stage) == list(range(7)), stage
    main = threading.current_thread().name
    assert record.threads("run") == record.threads("done") == {main}
    (worker,) = record.threads("prepare")
    assert record.threads("finish") == {worker} and worker != main
    # The worker prepares a shard before it finishes the one before it: prepare(k+1) is queued ahead of finish(k).
    worker_order = [(stage, chunk) for stage, chunk, _ in record.events if stage in ("prepare", "finish")]
    assert worker_order[:3] == [("prepare", 0), ("prepare", 1), ("finish", 0)]


def test_no_chunk_no_thread():
    before = threading.active_count()
    run_pipeline([], *stages(Recorder()))
    assert threading.active_count() == before


def overlap_checking_stages(wait: float):
    """Stages whose run(k) waits until prepare(k+1) and finish(k-1) have happened, elsewhere."""
    prepared, finished = {}, {}
    for k in range(4):
        prepared[k], finished[k] = threading.Event(), threading.Event()

    def prepare(chunk):
        prepared[chunk].set()
        return chunk

    def run(chunk, _):
        if chunk + 1 in prepared:
            assert prepared[chunk + 1].wait(wait), f"shard {chunk + 1} not prepared during shard {chunk}'s run"
        if chunk >= 1:
            assert finished[chunk - 1].wait(wait), f"shard {chunk - 1} not finished during shard {chunk}'s run"

    def finish(chunk, *_):
        finished[chunk].set()

    return prepare, run, finish, lambda *_: None


def plain_loop(chunks, prepare, run, finish, done):
    for chunk in chunks:
        prepared = prepare(chunk)
        ran = run(chunk, prepared)
        done(chunk, finish(chunk, prepared, ran))


def test_the_next_shard_is_prepared_and_the_last_finished_while_backends_run():
    run_pipeline(list(range(4)), *overlap_checking_stages(WAIT))
    # The attack: a plain loop over the same stages never has the next shard ready during a run.
    with pytest.raises(AssertionError, match="shard 1 not prepared during shard 0's run"):
        plain_loop(list(range(4)), *overlap_checking_stages(0.2))


def test_a_failing_finish_stops_the_run_with_its_error_and_nothing_after_it_is_finished():
    record = Recorder()
    prepare, run, finish, done = stages(record)

    def failing_finish(chunk, prepared, ran):
        if chunk == 2:
            raise OSError(28, "No space left on device: shard 2")
        return finish(chunk, prepared, ran)

    with pytest.raises(OSError, match="shard 2"):
        run_pipeline(list(range(8)), prepare, run, failing_finish, done)
    assert record.order("finish") == [0, 1]  # the worker takes nothing after the failed stage's successors
    assert max(record.order("run")) <= 4  # the error surfaces at the next shard boundaries, not at the end
    assert record.order("done") == [0, 1]


def test_an_error_on_the_calling_thread_lets_the_stage_in_progress_complete_and_drops_the_rest():
    record = Recorder()
    prepare, _, finish, done = stages(record)
    finishing = threading.Event()

    def slow_finish(chunk, prepared, ran):
        finishing.set()
        threading.Event().wait(0.3)  # still writing when the error comes
        return finish(chunk, prepared, ran)

    def run(chunk, prepared):
        record("run", chunk)
        if chunk == 1:
            assert finishing.wait(WAIT)
            raise KeyboardInterrupt  # e.g. Ctrl-C, or the rank watchdog's SystemExit
        return f"ran {chunk}"

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(list(range(6)), prepare, run, slow_finish, done)
    assert record.order("finish") == [0]  # shard 0 was written whole before the error left run_pipeline
    assert record.order("prepare") == [0, 1]  # shard 2's preparation, queued behind the write, was dropped
    assert record.order("run") == [0, 1]


def test_a_pipelined_build_is_what_a_plain_loop_over_the_shards_writes(tmp_path):
    images, annotations = write_coco_set(tmp_path / "coco", num_images=9)
    config = GenerateConfig.from_dict({
        **SMALL_PHOTO_CONFIG, "sources": [coco_source_spec(images, annotations)], "samples_per_shard": 6,
        "backends": [{"name": "opencv_telea"}, {"name": "opencv_ns"}], "out_dir": str(tmp_path / "piped"),
    })
    run_generation(config, progress=False)
    piped = sorted((tmp_path / "piped" / "data").glob("*.parquet"))
    assert len(piped) >= 3

    sources = build_sources(config.sources, max_side=config.max_image_side)
    maker = SampleMaker(config, {source.name: source for source in sources})
    chunks = make_chunks(plan_work(sources, config.max_images), config.images_per_shard)
    assert [c.shard_name for c in chunks] == [p.name for p in piped]
    for chunk, shard in zip(chunks, piped, strict=True):
        made = maker.shard_samples([(item.source, item.image_id) for item in chunk.items])
        write_shard(made.rows, tmp_path / "plain.parquet")
        assert (tmp_path / "plain.parquet").read_bytes() == shard.read_bytes(), shard.name
