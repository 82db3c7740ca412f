"""One import name per package: builder/, harness/ and space/ sit at the repository root but are the packages
``inpaintbench.builder``, ``inpaintbench.harness`` and ``inpaintbench.space`` (setup.py).

Imported under a second name (``import builder`` from the root), a package would load a second copy of every
module and so of every registry: plug-ins registered in one copy would be missing from the other. Each of the
three calls ``require_package_name`` first, which refuses that with the way to import it.
"""

from __future__ import annotations


def require_package_name(name: str, expected: str) -> None:
    """Raise ImportError unless the package being imported as ``name`` is imported as ``expected``."""
    if name != expected:
        raise ImportError(f"{name!r} is the package {expected}: import it as `import {expected}` "
                          "(install the project first: bash scripts/setup.sh, or pip install -e .)")
