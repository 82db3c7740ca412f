"""Inpainting backends behind one interface, looked up by name in a registry.

Importing this package registers the built-in backends. A backend module registers itself with
``@register_backend("name")``; the generator only ever calls ``create_backend(name, **params)``.
"""

from . import classical  # noqa: F401  (registers opencv_telea, opencv_ns, patchmatch)
from .registry import BACKENDS, InpaintBackend, InpaintRequest, InpaintResult, create_backend, register_backend

__all__ = ["BACKENDS", "InpaintBackend", "InpaintRequest", "InpaintResult", "create_backend", "register_backend"]
