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


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports (at any depth of the file, lazy imports included), relative imports resolved
    against ``package`` (the dotted package that holds the file)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules_under(folder: Path, package: str) -> list[tuple[Path, str]]:
    """Every ``.py`` file under ``folder`` (the package ``package``) with the dotted package that holds it."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        sub = ".".join(path.relative_to(folder).with_suffix("").parts[:-1])
        found.append((path, f"{package}.{sub}" if sub else package))
    return found


def layer_violations(folder: Path, package: str, forbidden: tuple[str, ...], root: Path = REPO) -> list[str]:
    """``file: module`` (file relative to ``root``) for every import under ``folder`` (the package ``package``) of
    a ``forbidden`` package."""
    bad = []
    for path, holder in modules_under(folder, package):
        for module in sorted(imported_modules(path, holder)):
            if any(module == name or module.startswith(name + ".") for name in forbidden):
                bad.append(f"{path.relative_to(root)}: {module}")
    return bad


def test_the_builder_never_imports_the_harness_and_the_core_neither():
    """No import cycle between builder/ and harness/: the harness may use the builder (a run's split rules), never
    the reverse (the detector judge joins the builder's judge registry by name). The core under inpaintbench/
    imports none of the three; only the CLI front ends (cli.py, list_cli.py) reach into them, lazily."""
    upper = ("inpaintbench.harness", "inpaintbench.space")
    assert layer_violations(REPO / "builder", "inpaintbench.builder", upper) == []
    core = [path for path in (REPO / "inpaintbench").glob("*.py") if path.name not in ("cli.py", "list_cli.py")]
    assert len(core) >= 8  # registry, schema, ids, atomic_io, digests, folders, gt_mask, ...
    for path in core:
        assert not [m for m in imported_modules(path, "inpaintbench")
                    if m.startswith(("inpaintbench.builder", "inpaintbench.harness", "inpaintbench.space"))], path


def test_the_layer_check_finds_a_harness_import_however_it_is_spelled(tmp_path):
    """The attack on the check above: a builder module reaching into the harness absolutely, relatively (from a
    subpackage) or lazily inside a function is caught."""
    folder = tmp_path / "builder"
    (folder / "sub").mkdir(parents=True)
    (folder / "absolute.py").write_text("from inpaintbench.harness.detectors import create_detector\n")
    (folder / "sub" / "relative.py").write_text("from ...harness import reduce\n")
    (folder / "lazy.py").write_text("def f():\n    import inpaintbench.harness.data\n")
    (folder / "fine.py").write_text("from inpaintbench.folders import read_manifest\nfrom .sub import relative\n")
    found = layer_violations(folder, "inpaintbench.builder", ("inpaintbench.harness",), root=tmp_path)
    assert found == ["builder/absolute.py: inpaintbench.harness.detectors",
                     "builder/absolute.py: inpaintbench.harness.detectors.create_detector",
                     "builder/lazy.py: inpaintbench.harness.data",
                     "builder/sub/relative.py: inpaintbench.harness",
                     "builder/sub/relative.py: inpaintbench.harness.reduce"]


def test_the_builder_loads_without_the_harness():
    """At run time too: generating, releasing and assessing with the detector judge's registry entry load no
    harness module until the judge is asked for."""
    code = ("import sys, inpaintbench.builder.generate, inpaintbench.builder.release.build, "
            "inpaintbench.builder.deceptiveness.runner, inpaintbench.builder.deceptiveness.judges as j\n"
            "assert not [m for m in sys.modules if m.startswith('inpaintbench.harness')], 'harness loaded early'\n"
            "j.JUDGES.get_class('detector')\n"
            "assert 'inpaintbench.harness.detector_judge' in sys.modules\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


PACKAGES = {"builder": "inpaintbench.builder", "harness": "inpaintbench.harness", "space": "inpaintbench.space",
            "inpaintbench": "inpaintbench"}


def fixture_violations(root: Path = REPO) -> list[str]:
    """``file: why`` for every module under the four package folders of ``root`` that is a test fixture: named
    tiny_* (the tiny random-weight models are fixtures) or importing the tests package (lazily included)."""
    bad = []
    for folder, package in PACKAGES.items():
        for path, holder in modules_under(root / folder, package):
            rel = path.relative_to(root).as_posix()
            if path.name.startswith("tiny_"):
                bad.append(f"{rel}: named tiny_*")
            bad += [f"{rel}: {m}" for m in sorted(imported_modules(path, holder)) if m.split(".")[0] == "tests"]
    return bad


def test_no_test_fixture_ships_in_the_package():
    """Test fixtures (tiny random-weight pipelines, a tiny VLM, the local Hub, ...) live in tests/helpers/, out of
    the wheel: no module of builder/, harness/, space/ or inpaintbench/ is named tiny_* or imports ``tests``."""
    assert sum(1 for folder in PACKAGES for _ in (REPO / folder).rglob("*.py")) > 100  # the scan sees the packages
    assert fixture_violations() == []


def test_the_fixture_check_finds_a_fixture_however_it_gets_in(tmp_path):
    """The attack on the check above: a tiny_* module, an import of the test helpers, a lazy ``import tests``."""
    for folder in PACKAGES:
        (tmp_path / folder).mkdir()
    (tmp_path / "builder" / "backends").mkdir()
    (tmp_path / "builder" / "backends" / "tiny_pipelines.py").write_text("FAMILIES = ()\n")
    (tmp_path / "harness" / "uses.py").write_text("from tests.helpers.hub_server import HubServer\n")
    (tmp_path / "space" / "lazy.py").write_text("def f():\n    import tests\n")
    (tmp_path / "inpaintbench" / "fine.py").write_text("from inpaintbench.folders import read_manifest\n")
    assert fixture_violations(tmp_path) == ["builder/backends/tiny_pipelines.py: named tiny_*",
                                                 "harness/uses.py: tests.helpers.hub_server",
                                                 "harness/uses.py: tests.helpers.hub_server.HubServer",
                                                 "space/lazy.py: tests"]
