"""``inpaintbench list KIND``: the plug-ins a run can name, with one line each (lm-evaluation-harness's ``ls``).

Kinds: sources, backends, detectors, planners, judges, perturbations. Lazy plug-ins (diffusers, transformers,
source types) are described from their module's source, read with ``ast``: listing never imports a model library,
so it stays instant and works where those libraries are missing.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import sys
from collections.abc import Callable

from inpaintbench.registry import Registry


def _sources() -> Registry:
    from inpaintbench.builder.sources import SOURCE_TYPES

    return SOURCE_TYPES


def _backends() -> Registry:
    from inpaintbench.builder.backends import BACKENDS

    return BACKENDS


def _detectors() -> Registry:
    from inpaintbench.harness.detectors import DETECTORS

    return DETECTORS


def _planners() -> Registry:
    from inpaintbench.builder.planning import PLANNERS

    return PLANNERS


def _judges() -> Registry:
    from inpaintbench.builder.deceptiveness.judges import JUDGES

    return JUDGES


def _perturbations() -> Registry:
    from inpaintbench.harness.perturbations import PERTURBATIONS

    return PERTURBATIONS


# kind -> (where a run names it, the registry). Order here is the order of the choices in --help.
KINDS: dict[str, tuple[str, Callable[[], Registry]]] = {
    "sources": ("generate config `sources: [{type: ...}]`", _sources),
    "backends": ("generate config `backends: [{name: ...}]`", _backends),
    "detectors": ("`inpaintbench evaluate --detector NAME`", _detectors),
    "planners": ("generate config `planner: NAME`", _planners),
    "judges": ("`inpaintbench assess --judge NAME`", _judges),
    "perturbations": ("`inpaintbench evaluate --perturb NAME:VALUE`", _perturbations),
}


def _first_line(doc: str | None, limit: int = 110) -> str:
    """The first sentence of a docstring's first paragraph, on one line, at most ``limit`` characters."""
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    # A sentence ends at a full stop before a capital: "e.g. ``model``" and "et al. 2009" do not end one.
    sentence = re.split(r"\.\s+(?=[A-Z])", paragraph)[0].rstrip(".")
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def _registered_name(decorator: ast.expr) -> str | None:
    """``"x"`` for a decorator ``@anything.register("x")`` or ``@register_something("x")``."""
    if isinstance(decorator, ast.Call) and decorator.args and isinstance(decorator.args[0], ast.Constant):
        func = decorator.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called.startswith("register") and isinstance(decorator.args[0].value, str):
            return decorator.args[0].value
    return None


def lazy_description(module: str, name: str) -> str:
    """The first docstring line of the class registered as ``name`` in ``module``, read without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return f"(module {module} not found)"
    with open(spec.origin, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=spec.origin)
    for node in ast.walk(tree):
        registrable = (ast.ClassDef, ast.FunctionDef)  # a factory function registers too (the embedded source)
        if isinstance(node, registrable) and any(_registered_name(d) == name for d in node.decorator_list):
            # A module that holds one plug-in often documents it in the module docstring instead.
            return _first_line(ast.get_docstring(node) or ast.get_docstring(tree))
    return ""


def loaded_description(cls: type) -> str:
    module = sys.modules.get(cls.__module__)
    own = cls.__dict__.get("__doc__")
    return _first_line(own or (module.__doc__ if module else None))


def describe(registry: Registry) -> list[tuple[str, str, str]]:
    """(name, "" or "lazy", first docstring line) of every plug-in, sorted by name."""
    rows = []
    for name in registry.known():
        if name in registry:
            rows.append((name, "", loaded_description(registry[name])))
        else:
            rows.append((name, "lazy", lazy_description(registry.lazy[name], name)))
    return rows


def register(subparsers) -> None:
    parser = subparsers.add_parser("list", help="list sources, backends, detectors, planners, judges or perturbations",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=list(KINDS), help="which plug-ins to list")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, stream=None) -> int:
    stream = stream or sys.stdout
    where, registry_of = KINDS[args.kind]
    rows = describe(registry_of())
    width = max(len(name) for name, _, _ in rows)
    print(f"# {args.kind} ({len(rows)}), named by {where}; lazy: imported on first use", file=stream)
    for name, lazy, line in rows:
        print(f"{name:<{width}}  {lazy:<4}  {line}".rstrip(), file=stream)
    return 0
