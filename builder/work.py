"""The work plan: image ids -> work items -> fixed chunks (one chunk = one shard) -> chunks of one process.

Chunks are cut by item index from the sorted plan, *before* looking at how many processes run, and processes
take chunks round-robin. So the set of shards, and each shard's content, is the same for 1 or N processes and
for any restart: a process count only changes who writes which shard, never what is in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class _ListsImages(Protocol):
    name: str

    def list_image_ids(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class WorkItem:
    index: int  # position in the global plan
    source: str  # Source.name
    image_id: str


@dataclass(frozen=True)
class Chunk:
    index: int
    num_chunks: int
    items: tuple[WorkItem, ...]

    @property
    def shard_name(self) -> str:
        # The Hub's own naming, so the release step can upload the folder as is.
        return f"train-{self.index:05d}-of-{self.num_chunks:05d}.parquet"


def plan_work(sources: Sequence[_ListsImages], max_images: int | None = None) -> list[WorkItem]:
    """Sources in the given order, each one's image ids sorted (a source's listing order is not trusted)."""
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        # Sample ids start with the source name: two sources with one name would collide.
        raise ValueError(f"two sources share the name(s) {', '.join(duplicates)}; give each source a unique name")
    items: list[WorkItem] = []
    for source in sources:
        image_ids = [str(i) for i in source.list_image_ids()]
        if len(set(image_ids)) != len(image_ids):
            raise ValueError(f"source {source.name!r} lists some image ids twice")
        for image_id in sorted(image_ids):
            items.append(WorkItem(len(items), source.name, image_id))
    return items if max_images is None else items[:max_images]


def make_chunks(items: Sequence[WorkItem], items_per_chunk: int) -> list[Chunk]:
    if items_per_chunk < 1:
        raise ValueError(f"items_per_chunk must be >= 1, got {items_per_chunk}")
    groups = [tuple(items[i : i + items_per_chunk]) for i in range(0, len(items), items_per_chunk)]
    return [Chunk(index, len(groups), group) for index, group in enumerate(groups)]


def chunks_for_process(chunks: Sequence[Chunk], process_index: int, num_processes: int) -> list[Chunk]:
    if not 0 <= process_index < num_processes:
        raise ValueError(f"process index {process_index} is outside 0..{num_processes - 1}")
    return list(chunks[process_index::num_processes])


# Keys of an input fingerprint that depend on this machine's copy of the data (file mtimes): a resumed run compares
# them, but a manifest leaves them out so that the same build on another machine writes the same manifest.
MACHINE_LOCAL_KEYS = ("photo_state",)


def input_fingerprints(sources: Sequence[_ListsImages]) -> dict[str, dict[str, Any]]:
    """What each source holds, beyond its config: image count, a hash of its ids, and ``fingerprint()`` if it has one.

    The config hash cannot see a photo folder or an annotation file change under the same path; a resumed run
    compares these so that shards from the old inputs are never mixed with shards from the new. A source can
    offer ``fingerprint() -> str`` (e.g. the sha256 of its annotation file) to make content edits visible too.
    """
    prints: dict[str, dict[str, Any]] = {}
    for source in sources:
        ids = sorted(str(i) for i in source.list_image_ids())
        fingerprint = getattr(source, "fingerprint", None)
        photo_state = getattr(source, "photo_state", None)
        prints[source.name] = {
            "images": len(ids),
            "ids_sha256": hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest(),
            "fingerprint": str(fingerprint()) if callable(fingerprint) else None,
        }
        state = photo_state() if callable(photo_state) else None
        if state is not None:  # machine-local (see MACHINE_LOCAL_KEYS): compared on resume, left out of manifests
            prints[source.name]["photo_state"] = state
    return prints
