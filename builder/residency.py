"""Which models of the backend mix are resident on the accelerator: at most ``max_resident_models`` at a time.

The SAGI-style diffusion mix (configs/gpu_mix.yaml) holds about 70 GB of half-precision weights: no common card
holds them all. The generator therefore runs a shard backend by backend (``builder.image_samples``), asking this
class for each backend in turn; a backend not resident is built (first use) or brought back, and when that would
exceed the limit the least recently used one is evicted first:

- ``offload="cpu"``: moved to CPU memory (``pipeline.to("cpu")``), brought back by a move, not a reload;
- ``offload="unload"``: dropped, and built again from disk (or the OS page cache) when next needed;
- ``offload="model"``: diffusers' ``enable_model_cpu_offload``: the backend keeps its weights in CPU memory and
  moves one component at a time to the accelerator during a call; it never counts as resident;
- ``offload="auto"`` (default): ``cpu`` for a backend on an accelerator; ``unload`` for one on the CPU, where
  "moving to CPU" frees nothing and only unloading bounds memory.

Backends that hold no model (the classical ones: ``holds_model`` False) never count. Two mix entries that share a
checkpoint (``diffusion_common._LOADED_PIPELINES``) count as two: conservative, and each ``get`` puts its backend
back on its device, so an eviction that moved shared modules never leaves the other entry running on the CPU.

Nothing here changes what a backend computes (the same device, dtype and weights run each call), so the output
is byte-identical for every setting: ``tests/test_residency.py`` checks it.
"""

from __future__ import annotations

import gc
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OFFLOAD_CHOICES = ("auto", "cpu", "unload", "model")


@dataclass
class ResidencyLog:
    """What the residency cost: counted per backend index, timed in total (the generator logs it per shard)."""

    builds: dict[int, int] = field(default_factory=dict)  # backend created (weights read from disk/cache)
    moves_in: dict[int, int] = field(default_factory=dict)  # brought back to the accelerator from CPU memory
    evictions: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0  # building, moving and evicting

    def count(self, what: dict[int, int], index: int) -> None:
        what[index] = what.get(index, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"builds": dict(self.builds), "moves_in": dict(self.moves_in), "evictions": dict(self.evictions),
                "seconds": round(self.seconds, 3)}


class ResidentModels:
    """The mix's backends by index, built on first ``get`` and kept within ``max_resident`` on the accelerator."""

    def __init__(self, build: Callable[[int], Any], holds_model: Callable[[int], bool], max_resident: int = 1,
                 offload: str = "auto") -> None:
        """``build(index)`` creates backend ``index``; ``holds_model(index)`` says, without building it, whether it
        holds weights that count (its class's ``holds_model``)."""
        if not isinstance(max_resident, int) or isinstance(max_resident, bool) or max_resident < 1:
            raise ValueError(f"max_resident_models must be an integer >= 1, got {max_resident!r}")
        if offload not in OFFLOAD_CHOICES:
            raise ValueError(f"offload must be one of {', '.join(OFFLOAD_CHOICES)}, got {offload!r}")
        self._build = build
        self._holds_model = holds_model
        self.max_resident = max_resident
        self.offload = offload
        self._backends: dict[int, Any] = {}  # built and alive (resident or in CPU memory)
        self._resident: OrderedDict[int, None] = OrderedDict()  # least recently used first
        self.log = ResidencyLog()

    # ---- the one call the generator makes ------------------------------------------------------------------

    def get(self, index: int) -> Any:
        """Backend ``index``, ready to run on its device."""
        started = time.perf_counter()
        try:
            backend = self._backends.get(index)
            if not self._holds_model(index):
                if backend is None:
                    backend = self._backends[index] = self._build(index)
                    self.log.count(self.log.builds, index)
                return backend
            if index in self._resident:
                self._resident.move_to_end(index)
                backend.to_accelerator()  # a no-op unless an eviction moved modules it shares
                return backend
            if backend is not None and self._mode(backend) == "model":
                return backend  # offloaded by diffusers' hooks: never resident
            # Make room first: the incoming weights must not meet the outgoing ones on the card.
            self._make_room()
            if backend is None:
                backend = self._backends[index] = self._build(index)
                self.log.count(self.log.builds, index)
                if self._mode(backend) == "model":
                    backend.enable_model_cpu_offload()
                    return backend
            else:
                backend.to_accelerator()
                self.log.count(self.log.moves_in, index)
            self._resident[index] = None
            return backend
        finally:
            self.log.seconds += time.perf_counter() - started

    def built(self) -> dict[int, Any]:
        """The backends alive now (for describe/recipe lookups that must not build anything)."""
        return dict(self._backends)

    def resident(self) -> list[int]:
        return list(self._resident)

    # ---- eviction ------------------------------------------------------------------------------------------

    def _mode(self, backend: Any) -> str:
        if self.offload != "auto" and self.offload != "model":
            return self.offload
        on_accelerator = getattr(backend, "on_accelerator", False)
        if self.offload == "model":
            # Model offload needs an accelerator to offload *to*; on the CPU it would change nothing.
            return "model" if on_accelerator else "unload"
        return "cpu" if on_accelerator else "unload"

    def _make_room(self) -> None:
        while len(self._resident) >= self.max_resident:
            victim, _ = self._resident.popitem(last=False)
            backend = self._backends[victim]
            if self._mode(backend) == "cpu":
                backend.offload_to_cpu()
            else:
                del self._backends[victim]
                backend.close()
                del backend
                _free_memory()
            self.log.count(self.log.evictions, victim)


def _free_memory() -> None:
    # An unloaded pipeline's tensors go once nothing references them; collect now so the next build does not
    # meet them, and hand the CUDA cache back so the next model gets the room.
    gc.collect()
    try:
        import torch
    except ImportError:  # a weight-free run never imports torch
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
