"""A plug-in registered for one test only: ``with registered(BACKENDS, "test_flaky", FlakyBackend): ...``.

Tests never register into the project's global registries (backends, planners, detectors, judges, source
types, ...) as a side effect of being imported: what one test file adds would be visible to every test collected
after it, and the order of collection would decide what a registry holds. A test (or a fixture) registers what
it needs with ``registered`` and the name is gone again when it ends, whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from inpaintbench.registry import Registry


@contextmanager
def registered(registry: Registry, name: str, cls: type) -> Iterator[type]:
    """``cls`` registered as ``name`` (through the registry's own ``register``, so a clash is refused as it would
    be for a real plug-in) for the ``with`` block; removed after it."""
    registry.register(name)(cls)
    try:
        yield cls
    finally:
        registry.pop(name, None)
