"""One registry type for every plug-in point (sources, backends, planners, judges, detectors, perturbations),
lm-eval-harness style.

A ``Registry`` is a dict of name -> class, so ``name in REGISTRY`` and ``sorted(REGISTRY)`` read naturally. Classes
join it with ``@REGISTRY.register("name")`` (which also sets ``cls.name``, or the registry's ``name_attribute``);
callers build instances with ``REGISTRY.create(name, **params)``. Plug-ins whose modules are heavy to import
(diffusers, transformers, sentence-transformers) or optional (source types) are listed in ``lazy`` (name ->
module) and imported on first use, so callers never import them by hand and a run that does not use them never
pays for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(dict, Generic[T]):
    def __init__(self, kind: str, lazy: dict[str, str] | None = None, name_attribute: str = "name") -> None:
        super().__init__()
        self.kind = kind  # e.g. "inpainting backend": used in error messages
        self.lazy: dict[str, str] = dict(lazy or {})
        # The class attribute that receives the registered name: "name" for most plug-ins; sources, whose
        # instances carry a ``name`` of their own (it prefixes sample ids), take theirs as ``source_type``.
        self.name_attribute = name_attribute

    def register(self, name: str) -> Callable[[type], type]:
        def decorator(cls: type) -> type:
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            setattr(cls, self.name_attribute, name)
            self[name] = cls
            return cls

        return decorator

    def known(self) -> list[str]:
        """Registered names plus the lazy ones not imported yet."""
        return sorted(set(self) | set(self.lazy))

    def get_class(self, name: str) -> Callable[..., T]:
        if name not in self and name in self.lazy:
            importlib.import_module(self.lazy[name])
        try:
            return self[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.known())}") from None

    def create(self, name: str, **params: Any) -> T:
        return self.get_class(name)(**params)
