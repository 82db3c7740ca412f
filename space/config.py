"""What the Space reads and writes, set by environment variables (a Space's settings) or CLI flags.

A Hugging Face Space has no command line, so every setting has an environment variable; the ``inpaintbench space``
CLI only overrides them. Unset means: the embedded build a local ``inpaintbench generate`` writes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace

DEFAULT_LOCAL_DATA = "runs/embedded"  # where `inpaintbench generate` writes the embedded build

ENV_VARS = {
    "data": "INPAINTBENCH_DATA",  # local folder (generator output or release folder) or Hub dataset repo id
    "revision": "INPAINTBENCH_REVISION",  # Hub tag / branch / commit (Hub data only)
    "config_name": "INPAINTBENCH_CONFIG",  # dataset config (release folders and Hub repos with several)
    "db_path": "INPAINTBENCH_DB",  # SQLite file of the human test's answers
    "leaderboard_path": "INPAINTBENCH_LEADERBOARD",  # results the harness's load_leaderboard reads
    "max_upload_megapixels": "INPAINTBENCH_MAX_UPLOAD_MEGAPIXELS",
    "seed": "INPAINTBENCH_SEED",
    # JSON {detector name: {keyword arguments}}, e.g. {"trained": {"model": "models/trained.joblib"}}: detectors
    # that need a model file get it here.
    "detector_params": "INPAINTBENCH_DETECTOR_PARAMS",
    # The human test (space/human_pool.py, space/human.py).
    "human_test_share": "INPAINTBENCH_HUMAN_TEST_SHARE",  # share of photos set aside for it, never in Browse
    "human_test_length": "INPAINTBENCH_HUMAN_TEST_LENGTH",  # images per visit (capped by the set-aside photos)
    "human_session_max_answers": "INPAINTBENCH_HUMAN_SESSION_MAX_ANSWERS",
    "human_session_window_s": "INPAINTBENCH_HUMAN_SESSION_WINDOW_S",
    "human_client_max_answers": "INPAINTBENCH_HUMAN_CLIENT_MAX_ANSWERS",
    "human_client_window_s": "INPAINTBENCH_HUMAN_CLIENT_WINDOW_S",
    # Behind a reverse proxy (a Space) every request comes from the proxy: name the header that carries the
    # visitor's address (X-Forwarded-For); unset = the connecting address, which a client cannot forge.
    "human_client_ip_header": "INPAINTBENCH_HUMAN_CLIENT_IP_HEADER",
    # Load limits (see the fields below).
    "detect_max_side": "INPAINTBENCH_DETECT_MAX_SIDE",
    "detect_concurrency": "INPAINTBENCH_DETECT_CONCURRENCY",
    "event_concurrency": "INPAINTBENCH_EVENT_CONCURRENCY",
    "queue_max_size": "INPAINTBENCH_QUEUE_MAX_SIZE",
    "cache_max_age_s": "INPAINTBENCH_CACHE_MAX_AGE",
}


def _usable_cores() -> int:
    # The cores this process may run on (a container's share), not the host's count.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _default_db_path() -> str:
    # On a Space, /data is the persistent volume (when one is attached); anything else is lost on restart.
    if os.environ.get("SPACE_ID") and os.path.isdir("/data") and os.access("/data", os.W_OK):
        return "/data/inpaintbench_human_test.sqlite3"
    return "inpaintbench_human_test.sqlite3"


@dataclass(frozen=True)
class SpaceConfig:
    data: str = DEFAULT_LOCAL_DATA
    revision: str | None = None
    config_name: str | None = None
    db_path: str = field(default_factory=_default_db_path)
    leaderboard_path: str | None = None
    # Uploads above this are refused before their pixels are decoded (decompression bombs).
    max_upload_megapixels: float = 40.0
    max_upload_size: str = "25mb"  # enforced by Gradio on upload
    seed: int = 0
    cache_dir: str | None = None  # datasets' cache (None = the HF default)
    detector_params: str | None = None  # JSON, see ENV_VARS
    # The human test: a share of the photos (every sample of a photo on one side) is kept out of Browse.
    human_test_share: float = 0.3
    human_test_length: int = 20
    # At most max answers per window, per session and per client address: a person needs seconds per image.
    human_session_max_answers: int = 30
    human_session_window_s: float = 60.0
    human_client_max_answers: int = 600
    human_client_window_s: float = 3600.0
    human_client_ip_header: str | None = None
    # Uploads longer than this (pixels, longer side) are downscaled before detection, and the result says so.
    detect_max_side: int = 2048
    # Detections running at once (CPU-bound: about one per core); more wait in their own queue, so they never hold
    # up the cheap events (browse, human answers), which run up to event_concurrency at once.
    detect_concurrency: int = field(default_factory=lambda: _usable_cores())
    event_concurrency: int = 8
    # Events waiting, all kinds together, before new ones are refused with "queue is full" (a busy Space).
    queue_max_size: int = 64
    # Gradio's temp files (uploads, result images) older than this are deleted, checked every quarter of it.
    cache_max_age_s: int = 3600

    def detector_kwargs(self) -> dict[str, dict]:
        """``detector_params`` parsed and checked: {name: {keyword: value}}."""
        if not self.detector_params:
            return {}
        where = f"{ENV_VARS['detector_params']} / --detector-params"
        try:
            parsed = json.loads(self.detector_params)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where} is not valid JSON ({exc})") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, dict) for v in parsed.values()):
            raise ValueError(f'{where} must map detector names to objects of parameters, e.g. '
                             f'{{"trained": {{"model": "models/trained.joblib"}}}}')
        return parsed

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> SpaceConfig:
        """Environment first, then ``overrides`` whose value is not None (CLI flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in ENV_VARS.items():
            raw = environ.get(var)
            if raw in (None, ""):
                continue
            try:
                if types[name] == "int":
                    values[name] = int(raw)
                elif types[name] == "float":
                    values[name] = float(raw)
                else:
                    values[name] = raw
            except ValueError:
                raise ValueError(f"environment variable {var}={raw!r} is not a valid {types[name]}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)
