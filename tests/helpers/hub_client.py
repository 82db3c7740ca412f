"""The real ``huggingface_hub`` / ``datasets`` clients against the local Hub (tests/helpers/hub_server.py).

The clients read HF_ENDPOINT when they are imported, so every client step runs in a fresh interpreter with the
endpoint, the server's valid token, HF_HUB_DISABLE_XET=1 and a private HF_HOME under the test's work folder; the
server runs in the test's process, which is how a test sees what was uploaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers.hub_server import VALID_TOKEN, HubServer

REPO = "inpaintbench-org/bench"  # what publish() publishes to unless told
SHARD_BYTES = 20_000  # a few release files per split: multi-file splits without hundreds of HTTP round trips


def client_env(hub: HubServer, workdir: Path) -> dict[str, str]:
    """This process's environment without proxies or HF_* settings, pointed at ``hub`` with HF_HOME in
    ``workdir``/hf-home."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("HF_")}
    env.update(
        HF_ENDPOINT=hub.endpoint,
        HF_HUB_DISABLE_XET="1",
        HF_TOKEN=VALID_TOKEN,
        HF_HOME=str(workdir / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_DATASETS_DISABLE_PROGRESS_BARS="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def run_publish(hub, workdir, data: Path, split_config: Path, version: str, repo: str = REPO,
                extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``inpaintbench publish --repo REPO --version VERSION --data DATA --split-config SPLIT_CONFIG *extra`` in a
    fresh interpreter against ``hub``; ``env`` entries override the client environment (e.g. another token)."""
    cmd = [sys.executable, "-m", "inpaintbench.cli", "publish", "--repo", repo, "--version", version,
           "--data", str(data), "--split-config", str(split_config), *extra]
    return subprocess.run(cmd, env={**client_env(hub, workdir), **(env or {})}, capture_output=True, text=True,
                          timeout=120)


def publish(hub, workdir, version: str, gen: str, repo: str = REPO) -> subprocess.CompletedProcess:
    """``inpaintbench publish`` of the generator output ``workdir``/``gen`` cut by ``workdir``/splits.yaml."""
    return run_publish(hub, workdir, workdir / gen, workdir / "splits.yaml", version, repo,
                       extra=("--max-shard-mb", str(SHARD_BYTES / 2**20)))


def run_client(hub, workdir, code: str) -> dict:
    """Run ``code`` (which must print one JSON line last) in a fresh interpreter; return that JSON."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=client_env(hub, workdir),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
