"""Write a folder that deploys as a Hugging Face Space: the Space's three files plus the project's wheel.

The Space installs ``inpaintbench`` from that wheel (see requirements.txt), so what runs on the Space is exactly
this checkout, with no need for the project to be published anywhere first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

SPACE_DIR = Path(__file__).resolve().parent
SPACE_FILES = ("app.py", "README.md", "requirements.txt")


class ExportError(RuntimeError):
    pass


def _project_root() -> Path:
    root = SPACE_DIR.parent
    if not (root / "pyproject.toml").is_file():
        raise ExportError(f"{root}: no pyproject.toml; export needs a source checkout (an editable install)")
    return root


def export_space(out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = _project_root()
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(root)],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        raise ExportError(f"building the wheel of {root} failed:\n{build.stderr.strip()}")
    wanted = re.search(r"^\./(\S+\.whl)$", (SPACE_DIR / "requirements.txt").read_text(), re.MULTILINE)
    if wanted is None or not (out / wanted.group(1)).is_file():
        built = sorted(p.name for p in out.glob("*.whl"))
        raise ExportError(
            f"{SPACE_DIR / 'requirements.txt'} names {wanted.group(1) if wanted else 'no ./*.whl'}, but the build "
            f"wrote {built}: update the wheel line (the project's version changed?)"
        )
    written = [out / wanted.group(1)]
    for name in SPACE_FILES:
        written.append(Path(shutil.copy2(SPACE_DIR / name, out / name)))
    return written
