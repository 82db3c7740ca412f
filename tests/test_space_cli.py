"""``inpaintbench space``: refuses bad data with a clear message, serves real data, exports a deployable folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import zipfile

import pytest
from gradio_client import Client

from inpaintbench.cli import main
from tests.helpers.ports import free_port
from tests.helpers.space_fixtures import write_generator_output


def test_space_refuses_missing_data_with_a_clear_message(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/embedded here
    monkeypatch.delenv("INPAINTBENCH_DATA", raising=False)
    assert main(["space"]) == 2
    assert (
        "runs/embedded: no such folder. Build the embedded set with `inpaintbench generate`" in capsys.readouterr().err
    )
    (tmp_path / "empty").mkdir()
    assert main(["space", "--data", str(tmp_path / "empty")]) == 2
    assert "no Parquet shards" in capsys.readouterr().err


@pytest.mark.slow
def test_space_command_serves_a_generator_output(tmp_path):
    write_generator_output(tmp_path / "runs" / "embedded")
    port = free_port()
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    # No --data: the default is runs/embedded under the working directory, what `inpaintbench generate` writes.
    command = [sys.executable, "-m", "inpaintbench.cli", "space", "--port", str(port), "--db", str(tmp_path / "h.db")]
    server = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        client = None
        while client is None:
            if server.poll() is not None:
                pytest.fail(f"inpaintbench space exited {server.returncode}:\n{server.stdout.read()}")
            if time.monotonic() > deadline:
                pytest.fail("inpaintbench space did not answer within 60 s")
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except Exception:  # not listening yet
                time.sleep(0.5)
        result = client.predict("All", "All", "All", "All", 3, api_name="/browse")
        # 12 samples, less the photos the human test sets aside (space/human_pool.py): Browse never shows those.
        shown = re.search(r"of \*\*(\d+)\*\* matching", result[4])
        assert result[-1] == 3 and shown and 3 <= int(shown.group(1)) < 12, result[4]
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_export_writes_a_deployable_space_folder(tmp_path):
    from inpaintbench.space.export import export_space

    written = export_space(tmp_path / "space")
    names = sorted(p.name for p in written)
    assert names == ["README.md", "app.py", "inpaintbench-0.1.0-py3-none-any.whl", "requirements.txt"]
    readme = (tmp_path / "space" / "README.md").read_text()
    assert readme.startswith("---\n") and "sdk: gradio" in readme and "app_file: app.py" in readme
    with zipfile.ZipFile(tmp_path / "space" / "inpaintbench-0.1.0-py3-none-any.whl") as wheel:
        members = set(wheel.namelist())
    assert {
        "inpaintbench/space/app.py",
        "inpaintbench/harness/detectors/__init__.py",
        "inpaintbench/schema.py",
    } <= members
    # Test fixtures stay out of the wheel: no test helper, no tiny random-weight model builder.
    assert [name for name in members if name.startswith("tests/") or "/tiny_" in name] == []
