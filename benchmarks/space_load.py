"""The Space under load: the real app on a free port, driven through ``gradio_client`` by concurrent clients.

    python benchmarks/space_load.py                      # the embedded build (runs/embedded)
    python benchmarks/space_load.py --data path/to/data  # any folder the Space reads

Each configuration is served by its own server process (so its memory is the server's alone) and gets:

- **human answers**: ``--testers`` clients (threads) each start a human test, then answer ``--answers`` images as
  fast as they can; latency of each answer;
- **small Detect**: ``--detects`` clients each upload a small photo to /detect at once; latency of each call;
- **Detect while a big upload runs**: one client uploads a ``--big`` PNG (e.g. 7000x5000), and while it is being
  processed ``--during`` small Detect calls are made; their latency, and the big one's;
- **server memory**: resident set after start-up and its peak (VmHWM) after each phase.

The baseline, measured in the same run on the same data and files, is Gradio's defaults: one event at a time per
listener (``default_concurrency_limit=1``), Detect in the default queue too, and no downscaling before detection.
The figures are wall-clock times on whatever else the machine is doing: compare ratios, not absolute times.

The human-test endpoints change with the Space: ``HUMAN_START`` / ``HUMAN_ANSWERS`` name them, and the arguments
of each answer are taken, by label, from what the previous call returned (``view_api``), so added or removed
hidden inputs (state, an item number) need no change here.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

HUMAN_START = "/human_start"
HUMAN_ANSWERS = ("/human_real", "/human_inpainted")  # alternated; a "where?" click is not needed for timing
SMALL_SIZE = (480, 360)

# SpaceConfig fields per configuration. Fields a SpaceConfig lacks are left out (so the script runs on older and
# newer Spaces); the human test's rate limits are raised: every benchmark client comes from 127.0.0.1.
CONFIGS = {
    "tuned (the Space's defaults)": {},
    "baseline (Gradio's defaults: concurrency 1, no downscaling)": {
        "event_concurrency": 1, "detect_concurrency": 1, "detect_max_side": 1_000_000, "_gradio_defaults": True,
    },
}
GENEROUS_RATE_LIMITS = {"human_session_max_answers": 100_000, "human_client_max_answers": 100_000}


# --- the server (a subprocess) -----------------------------------------------------------------------------------
def serve(settings: dict, port: int) -> None:
    from dataclasses import fields, replace

    from inpaintbench.space.app import build_app, launch
    from inpaintbench.space.config import SpaceConfig

    gradio_defaults = settings.pop("_gradio_defaults", False)
    known = {f.name for f in fields(SpaceConfig)}
    config = replace(SpaceConfig(), **{k: v for k, v in settings.items() if k in known})
    demo = build_app(config)
    if gradio_defaults:
        # What the Space did before its queue was configured: Detect under the default limit like every event.
        for fn in demo.fns.values():
            fn.concurrency_limit, fn.concurrency_id = "default", str(fn._id)
        config = replace(config, queue_max_size=100_000)
    launch(demo, config, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    print("READY", flush=True)
    sys.stdin.read()  # until the driver closes our stdin


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    values = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return {"rss_mb": round(values["VmRSS"]), "peak_mb": round(values["VmHWM"])}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_call(pid: int, run, calls: int) -> tuple[object, dict[str, float]]:
    """``run()``'s result, and the CPU milliseconds per call of the server and of this (client) process. The
    clients share the 2 cores with the server, so the latencies are pessimistic: this says how much is theirs."""
    server0, client0 = cpu_seconds(pid), time.process_time()
    result = run()
    server, client = cpu_seconds(pid) - server0, time.process_time() - client0
    return result, {"server_cpu_ms": round(1000 * server / calls, 1), "client_cpu_ms": round(1000 * client / calls, 1)}


class Server:
    def __init__(self, settings: dict) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", json.dumps(settings), "--port", str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline()
        if line.strip() != "READY":
            self.process.kill()
            raise RuntimeError(f"the Space did not start (said {line!r}); run with --serve to see why")
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.process.stdin.close()
        self.process.terminate()
        self.process.wait(timeout=30)


# --- the clients -----------------------------------------------------------------------------------------------
def clients(url: str, n: int) -> list:
    from gradio_client import Client

    with ThreadPoolExecutor(8) as pool:  # connecting is not what is measured
        # download_files=False: the latency is the server's answer, not this machine fetching every image again
        return list(
            pool.map(
                lambda _: Client(url, verbose=False, download_files=False, httpx_kwargs={"timeout": 600}), range(n)
            )
        )


def human_tester(client, answers: int) -> list[float]:
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    seen: dict[str, object] = {}

    def call(endpoint: str) -> None:
        args = [seen.get(p["label"]) for p in api[endpoint]["parameters"]]
        out = client.predict(*args, api_name=endpoint)
        out = out if isinstance(out, (list, tuple)) else [out]
        seen.update({r["label"]: value for r, value in zip(api[endpoint]["returns"], out, strict=False)})

    call(HUMAN_START)
    times = []
    for k in range(answers):
        start = time.perf_counter()
        call(HUMAN_ANSWERS[k % len(HUMAN_ANSWERS)])
        times.append(time.perf_counter() - start)
    return times


def detect_once(client, path: str) -> float:
    from gradio_client import handle_file

    start = time.perf_counter()
    client.predict(handle_file(path), "ela", api_name="/detect")
    return time.perf_counter() - start


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return {"n": len(times), "p50_s": round(statistics.median(ordered), 3), "p95_s": round(p95, 3)}


def write_images(folder: Path, big: tuple[int, int]) -> tuple[str, str]:
    rng = np.random.default_rng(0)
    small = folder / "small.png"
    Image.fromarray(rng.integers(0, 256, (SMALL_SIZE[1], SMALL_SIZE[0], 3), dtype=np.uint8)).save(small)
    # A smooth photo-like big image: gradients and waves compress well, so it fits the Space's upload size limit.
    y, x = np.mgrid[0:big[1], 0:big[0]].astype(np.float32)
    channels = [
        127 + 100 * np.sin(x / 97.0) * np.cos(y / 131.0),
        255 * x / big[0],
        255 * y / big[1],
    ]
    pixels = np.stack([np.clip(c, 0, 255).astype(np.uint8) for c in channels], -1)
    big_path = folder / "big.png"
    Image.fromarray(pixels).save(big_path, compress_level=6)
    return str(small), str(big_path)


def measure(name: str, settings: dict, args, small: str, big: str) -> dict:
    server = Server({**settings, **GENEROUS_RATE_LIMITS, "data": args.data, "db_path": args.db_for(name)})
    try:
        result: dict = {"config": name, "settings": settings, "memory_after_start": memory_mb(server.process.pid)}
        testers = clients(server.url, args.testers)

        def play() -> list[list[float]]:
            with ThreadPoolExecutor(args.testers) as pool:
                return list(pool.map(lambda c: human_tester(c, args.answers), testers))

        per_tester, cost = cpu_per_call(server.process.pid, play, args.testers * (args.answers + 1))
        result["human_answers"] = {**percentiles([t for times in per_tester for t in times]), **cost}
        result["memory_after_human"] = memory_mb(server.process.pid)

        detectors = clients(server.url, args.detects)

        def detect_all() -> list[float]:
            with ThreadPoolExecutor(args.detects) as pool:
                return list(pool.map(lambda c: detect_once(c, small), detectors))

        times, cost = cpu_per_call(server.process.pid, detect_all, args.detects)
        result["detect_small"] = {**percentiles(times), **cost}
        result["memory_after_detect"] = memory_mb(server.process.pid)

        big_time: list[float] = []
        big_thread = threading.Thread(target=lambda: big_time.append(detect_once(detectors[0], big)))
        big_thread.start()
        time.sleep(args.big_head_start)  # let the big upload reach the server and start decoding
        with ThreadPoolExecutor(args.during) as pool:
            during = list(pool.map(lambda c: detect_once(c, small), detectors[1:args.during + 1]))
        big_thread.join()
        result["detect_small_during_big"] = percentiles(during)
        result["detect_big_s"] = round(big_time[0], 3)
        result["memory_after_big"] = memory_mb(server.process.pid)
        return result
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="runs/embedded", help="what the Space serves (default: the embedded build)")
    parser.add_argument("--testers", type=int, default=20)
    parser.add_argument("--answers", type=int, default=5, help="answers per tester")
    parser.add_argument("--detects", type=int, default=50)
    parser.add_argument("--during", type=int, default=10, help="small Detect calls while the big upload runs")
    parser.add_argument("--big", default="7000x5000", help="big upload size, WxH")
    parser.add_argument("--big-head-start", type=float, default=1.0, help="seconds between the big upload and the rest")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(json.loads(args.serve), args.port)
        return 0
    if not Path(args.data).exists():
        parser.error(f"--data {args.data}: no such folder")
    big = tuple(int(v) for v in args.big.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        args.db_for = lambda name: os.path.join(tmp, f"answers-{abs(hash(name))}.sqlite3")
        small, big_path = write_images(Path(tmp), big)
        print(f"data {args.data}; {os.cpu_count()} cores; {args.testers} testers x {args.answers} answers; "
              f"{args.detects} small Detect ({SMALL_SIZE[0]}x{SMALL_SIZE[1]}); big upload {args.big} "
              f"({Path(big_path).stat().st_size / 1e6:.1f} MB PNG) with {args.during} small Detect during it")
        results = []
        for name, settings in CONFIGS.items():
            results.append(measure(name, settings, args, small, big_path))
            print(json.dumps(results[-1]), flush=True)
    from inpaintbench.space.config import SpaceConfig

    print("Space defaults:", {k: v for k, v in asdict(SpaceConfig()).items()
                              if k in ("event_concurrency", "detect_concurrency", "queue_max_size", "detect_max_side")})
    tuned, baseline = results
    print("ratios baseline / tuned (higher = tuned faster):")
    for key in ("human_answers", "detect_small", "detect_small_during_big"):
        for stat in ("p50_s", "p95_s"):
            print(f"  {key} {stat}: {baseline[key][stat]} / {tuned[key][stat]} = "
                  f"{baseline[key][stat] / max(tuned[key][stat], 1e-9):.1f}x")
    print(f"  detect_big_s: {baseline['detect_big_s']} / {tuned['detect_big_s']} = "
          f"{baseline['detect_big_s'] / tuned['detect_big_s']:.1f}x")
    print(
        f"  server peak memory MB: {baseline['memory_after_big']['peak_mb']} / {tuned['memory_after_big']['peak_mb']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
