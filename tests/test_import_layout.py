"""builder/, harness/ and space/ are the packages inpaintbench.{builder,harness,space}: importing one under its bare
folder name from the repository root is refused with the way to import it, never a silent second copy."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["builder", "harness", "space"])
def test_a_bare_import_from_the_root_is_refused_with_the_way_to_import_it(package):
    bare = subprocess.run([sys.executable, "-c", f"import {package}"], cwd=REPO, capture_output=True, text=True)
    assert bare.returncode != 0
    assert f"import it as `import inpaintbench.{package}`" in bare.stderr
    proper = subprocess.run([sys.executable, "-c", f"import inpaintbench.{package}"], cwd=REPO, capture_output=True,
                            text=True)
    assert proper.returncode == 0, proper.stderr


def test_a_second_name_would_mean_a_second_registry(monkeypatch):
    """Why the guard exists: a module loaded under another name is another module, with its own registry, so a
    backend registered through one name is unknown through the other."""
    from inpaintbench.builder.backends.registry import BACKENDS

    spec = importlib.util.spec_from_file_location("second_copy_of_registry", REPO / "builder/backends/registry.py")
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, copy)  # dataclasses look their module up while it executes
    spec.loader.exec_module(copy)
    assert copy.BACKENDS is not BACKENDS
    assert "opencv_telea" in BACKENDS and "opencv_telea" not in copy.BACKENDS
