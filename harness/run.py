"""One evaluation run: predictions -> per-sample records -> metrics, breakdowns, intervals -> results dict.

``collect_records`` is what each process does on its share of the samples (indices ``rank::world``, so the
split depends only on the index); ``score_records`` runs once, on all records, in index order. Splitting the
work this way is what lets ``accelerate launch`` spread a detector over processes with identical results.
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import inpaintbench
from inpaintbench.harness.breakdowns import bootstrap_intervals, breakdowns, domain_split, domain_weights
from inpaintbench.harness.conventions import CONVENTIONS, DEFAULT_ENTRY_BUDGET
from inpaintbench.harness.data import EvalData
from inpaintbench.harness.perturbations import IDENTITY, Chain, parse_perturbation
from inpaintbench.harness.problems import POLICIES, Problem, SubmissionError
from inpaintbench.harness.records import (
    DetectorPredictor,
    EntryBudget,
    FolderPredictor,
    SampleRecord,
    make_records,
    miss_summary,
)
from inpaintbench.harness.results import RESULTS_FORMAT, RESULTS_FORMAT_VERSION
from inpaintbench.harness.scoring import HEADLINE_METRICS, Scorer

SUBMISSION_PERTURB_REFUSAL = (
    "--perturb applies to --detector runs only: a --submission folder holds maps a detector made elsewhere from "
    "the unperturbed images, so the harness cannot perturb what it saw. Perturb the images yourself, predict, "
    "and submit those maps as their own entry, or evaluate the detector with --detector ... --perturb SPEC")


@dataclass
class EvalOptions:
    data: str
    config: str | None = None
    split: str | None = None
    detector: str | None = None  # registry name, module:Class or file.py:Class
    params: dict = field(default_factory=dict)
    submission: str | None = None  # folder of maps / scores
    name: str | None = None  # shown on the leaderboard; defaults to the detector's name
    train_backends: list[str] | None = None  # overrides the detector's own training_backends
    policy: str = "strict"
    timeout_s: float = 60.0
    memory_mb: int = 8192
    bootstrap: int = 1000
    seed: int = 0
    progress: bool = True
    perturbation: str = IDENTITY  # robustness track: what the detector's images go through (perturbations.py)
    entry_budget: int | None = DEFAULT_ENTRY_BUDGET  # histogram rows held in memory; the rest spill to disk

    def __post_init__(self) -> None:
        if (self.detector is None) == (self.submission is None):
            raise ValueError("give exactly one of a detector (--detector) or a submission folder (--submission)")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}")
        self._chain = parse_perturbation(self.perturbation)  # not a field: never in asdict / the results config
        self.perturbation = self._chain.spec  # canonical: results are keyed by it
        if self.submission is not None and self.perturbation != IDENTITY:
            raise ValueError(SUBMISSION_PERTURB_REFUSAL)

    @property
    def chain(self) -> Chain:
        """The parsed perturbation: parsed once, in ``__post_init__`` (again only if ``perturbation`` is reassigned)."""
        if self._chain.spec != self.perturbation:
            self._chain = parse_perturbation(self.perturbation)
        return self._chain


@dataclass
class Collected:
    records: list[SampleRecord]
    detector: dict
    problems: list[Problem]  # problems not tied to one dataset sample (extra ids, stray files)


def collect_records(opts: EvalOptions, data: EvalData, rank: int = 0, world: int = 1) -> Collected:
    from inpaintbench.harness.allocator import keep_freed_buffers

    keep_freed_buffers()  # per-image buffers reused instead of re-faulted (allocator.py)
    indices = range(rank, len(data.dataset), world)
    desc = f"scoring [{rank + 1}/{world}]" if world > 1 else "scoring"
    if opts.perturbation != IDENTITY:
        desc += f" ({opts.perturbation})"
    if opts.detector is not None:
        from inpaintbench.harness.sandbox import SandboxedDetector

        with SandboxedDetector(opts.detector, opts.params, timeout_s=opts.timeout_s, memory_mb=opts.memory_mb) as box:
            records = make_records(data.dataset, indices, DetectorPredictor(box), desc, opts.progress, rank,
                                   perturbation=opts.chain, budget=opts.entry_budget)
            info = dict(box.description or {})
        return Collected(records, info, [])
    from inpaintbench.harness.folder import FolderSubmission

    submission = FolderSubmission(opts.submission)
    extra = submission.check_ids(list(data.dataset["sample_id"])) if rank == 0 else []
    records = make_records(data.dataset, indices, FolderPredictor(submission), desc, opts.progress, rank,
                           budget=opts.entry_budget)
    info = {"name": opts.name or submission.root.name, "spec": f"folder:{submission.root}", "training_backends": [],
            "params": {}, "has_maps": submission.has_maps, "has_scores": submission.scores is not None,
            "notes": list(submission.notes)}
    # Maps made outside the harness: nothing shows they were not made from the (public) ground truth.
    info["isolation"] = {"isolated": False, "method": "folder"}
    return Collected(records, info, extra)


def merge_collected(parts: list[Collected], entry_budget: int | None = DEFAULT_ENTRY_BUDGET) -> Collected:
    records = sorted((r for p in parts for r in p.records), key=lambda r: r.index)
    if records:  # each process kept its share within the budget; together they may not be
        EntryBudget(entry_budget).admit_records(records)
    return Collected(records, parts[0].detector, [x for p in parts for x in p.problems])


def _metric_module_compute(summaries) -> dict:
    """Headline metrics through the ``evaluate`` module itself (the documented public path)."""
    import evaluate

    from inpaintbench.harness.metrics import METRIC_PATH, summaries_as_inputs

    metric = evaluate.load(METRIC_PATH)
    return metric.compute(**summaries_as_inputs(summaries))


def score_records(opts: EvalOptions, data: EvalData, collected: Collected, use_evaluate: bool = True,
                  elapsed_s: float | None = None) -> dict:
    records = collected.records
    problems = list(collected.problems) + [r.problem for r in records if r.problem is not None]
    with_map = any(r.has_map for r in records if r.problem is None)
    if with_map:  # a map-less sample in a run with maps would silently drop out of pixel metrics
        for r in records:
            if r.problem is None and not r.has_map:
                r.problem = Problem(r.sample_id, "missing", "no map while other samples have maps")
                r.summary = None
                problems.append(r.problem)
    if problems and opts.policy == "strict":
        raise SubmissionError(problems, opts.submission or opts.detector or "")
    summaries = [r.summary if r.problem is None else miss_summary(r, with_map) for r in records]
    metas = [r.meta for r in records]
    scorer = Scorer(summaries)
    metrics = _metric_module_compute(summaries) if use_evaluate else scorer.compute()

    detector = dict(collected.detector)
    if opts.name:
        detector["name"] = opts.name
    training = opts.train_backends if opts.train_backends is not None else detector.get("training_backends") or []
    detector["training_backends"] = list(training)
    intervals = (
        {"overall": bootstrap_intervals(scorer, opts.bootstrap, opts.seed, progress=opts.progress)}
        if opts.bootstrap
        else {}
    )
    domain = None
    if training:
        domain = domain_split(scorer, metas, training)
        if opts.bootstrap:
            for part, w in domain_weights(metas, scorer.labels, training).items():
                if part in domain:
                    intervals[part] = bootstrap_intervals(scorer, opts.bootstrap, opts.seed, base_weights=w,
                                                          progress=opts.progress, desc=f"bootstrap {part}")
    seconds = [r.seconds for r in records if r.problem is None and r.seconds]
    return {
        "format": RESULTS_FORMAT,
        "format_version": RESULTS_FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "inpaintbench_version": getattr(inpaintbench, "__version__", None),
        "detector": detector,
        # The perturbation is part of what was scored: the leaderboard keys rows by it (old files: "none").
        "dataset": {**data.identity, "ood_split_backends": list(data.ood_backends), "perturbation": opts.perturbation},
        "perturbation": opts.chain.describe(),
        "config": {k: v for k, v in asdict(opts).items() if k != "progress"},
        "conventions": CONVENTIONS,
        "headline_metrics": list(HEADLINE_METRICS),
        # False: the detector ran without OS isolation, or the maps were made outside the harness (a folder);
        # the leaderboard lists such results apart.
        "isolated": bool((detector.get("isolation") or {}).get("isolated")),
        "metrics": metrics,
        # IMDL-BenCo's convention beside ours, for comparison with papers that used it (never a headline).
        "imdlbenco": {"convention": CONVENTIONS["imdlbenco"],
                      "pixel_f1_mean": metrics.get("imdlbenco_pixel_f1_mean"),
                      "pixel_iou_mean": metrics.get("imdlbenco_pixel_iou_mean")},
        "intervals": intervals,
        "breakdowns": breakdowns(scorer, metas),
        "domain": domain,
        "failures": {
            "policy": opts.policy,
            "count": len(problems),
            "by_kind": _count_kinds(problems),
            "samples": [p.as_dict() for p in problems],
        },
        "timing": {
            "elapsed_s": None if elapsed_s is None else round(elapsed_s, 3),
            "predict_s_mean": round(float(np.mean(seconds)), 6) if seconds else None,
            "samples_per_process": {str(k): v for k, v in sorted(_count(r.process for r in records).items())},
            "machine": platform.machine(),
        },
    }


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _count_kinds(problems: list[Problem]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in problems:
        out[p.kind] = out.get(p.kind, 0) + 1
    return dict(sorted(out.items()))


def run_evaluation(opts: EvalOptions, data: EvalData, use_evaluate: bool = True) -> dict:
    """Collect and score in one process on data already opened; writes nothing. Most callers want
    ``inpaintbench.harness.evaluate`` (api.py), which also opens the data, wraps input errors and writes files."""
    started = time.perf_counter()
    collected = collect_records(opts, data)
    return score_records(opts, data, collected, use_evaluate=use_evaluate, elapsed_s=time.perf_counter() - started)
