"""Turn a detector spec into an instance: a registry name (``ela``), ``package.module:Class`` or
``path/to/file.py:Class``. The class is called with the JSON params; it needs ``predict(image) -> dict``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from inpaintbench.harness.detectors import DETECTORS, create_detector


class DetectorLoadError(ValueError):
    pass


def load_detector(spec: str, params: dict[str, Any] | None = None):
    params = dict(params or {})
    if spec in DETECTORS:
        return create_detector(spec, **params)
    if ":" not in spec:
        raise DetectorLoadError(
            f"detector {spec!r}: expected a registered name ({', '.join(sorted(DETECTORS))}), "
            "'package.module:Class' or 'path/to/file.py:Class'"
        )
    target, _, class_name = spec.rpartition(":")
    if target.endswith(".py"):
        path = Path(target).resolve()
        if not path.is_file():
            raise DetectorLoadError(f"detector {spec!r}: file {path} does not exist")
        # A name unique to the file, so two submissions called detector.py never collide in sys.modules.
        module_name = f"_inpaintbench_submission_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise DetectorLoadError(f"detector {spec!r}: {target} has no attribute {class_name!r}")
    detector = cls(**params)
    if not callable(getattr(detector, "predict", None)):
        raise DetectorLoadError(f"detector {spec!r}: {class_name} has no predict(image) method")
    return detector


def describe_detector(detector, spec: str) -> dict[str, Any]:
    info = detector.describe() if callable(getattr(detector, "describe", None)) else {}
    info = dict(info)
    info.setdefault("name", getattr(detector, "name", "") or spec.rpartition(":")[2] or spec)
    info["spec"] = spec
    info.setdefault("training_backends", list(getattr(detector, "training_backends", ()) or ()))
    return info
