"""Which photos the human test may show: a share of the photos that Browse (and every other endpoint) never shows.

A script that crawls Browse and builds a table "pixels -> label" must find none of the test's images in it, so the
store is cut by PHOTO, not by sample: a photo's pristine row, its original and every edit of it go to the same side.
A photo's side is a salted hash of (source, source_image_id) compared with the share: it depends on that photo
alone, so adding photos to the data never moves an existing photo from one side to the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from inpaintbench.space.data import SampleStore

PRISTINE, INPAINTED = "pristine", "inpainted"


@dataclass(frozen=True)
class Split:
    browse: SampleStore | None  # what Browse, send-to-Detect and every endpoint but the human test see
    test: SampleStore | None  # the human test's photos; empty when the data are too small to set any aside


@dataclass(frozen=True)
class Photo:
    """One photo of the pool: its real version and its edits (positions in the pool store)."""

    key: str
    real: tuple[int, str, str]  # (position, column shown, sample_id): a pristine row, else an edit's original
    edits: tuple[tuple[int, str, str], ...]  # (position, sample_id, backend) of each inpainted sample


def photo_key(source: object, source_image_id: object) -> str:
    return f"{source}/{source_image_id}"


def in_test_pool(key: str, salt: object, share: float) -> bool:
    """True if the photo ``key`` belongs to the human test: a uniform draw in [0, 1) from its salted hash < share."""
    digest = hashlib.sha256(f"inpaintbench-human-pool\0{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def check_share(share: float) -> float:
    if not 0.0 <= float(share) <= 1.0:
        raise ValueError(f"human_test_share (INPAINTBENCH_HUMAN_TEST_SHARE) must lie in [0, 1], got {share!r}")
    return float(share)


def partition(store: SampleStore | None, share: float, salt: object) -> Split:
    """Cut ``store`` by photo into a Browse part and a human-test part (about ``share`` of the photos)."""
    share = check_share(share)
    if store is None:
        return Split(None, None)
    missing = [c for c in ("source", "source_image_id") if c not in store.index.columns]
    if missing:
        raise ValueError(f"{store.description}: no {', '.join(missing)} column, so photos cannot be told apart")
    keys = [photo_key(s, i) for s, i in zip(store.index["source"], store.index["source_image_id"], strict=False)]
    side = {k: in_test_pool(k, salt, share) for k in set(keys)}
    test = [p for p, k in enumerate(keys) if side[k]]
    browse = [p for p, k in enumerate(keys) if not side[k]]
    return Split(store.subset(browse), store.subset(test))


def photos_of(pool: SampleStore | None) -> list[Photo]:
    """The pool's photos in a fixed order (by key), each with a real version and its edits."""
    if pool is None or len(pool) == 0:
        return []
    index = pool.index
    by_photo: dict[str, list[int]] = {}
    for position, (source, image_id) in enumerate(zip(index["source"], index["source_image_id"], strict=False)):
        by_photo.setdefault(photo_key(source, image_id), []).append(position)
    photos = []
    for key in sorted(by_photo):
        rows = index.iloc[by_photo[key]]
        ids = rows["sample_id"].astype(str)
        pristine = [(int(p), "image", ids[p]) for p in rows.index[rows["label"] == PRISTINE]]
        edits = tuple((int(p), ids[p], str(rows.loc[p, "backend"])) for p in rows.index[rows["label"] == INPAINTED])
        # Without a pristine row the photo is still real in its edits' "original" column (same pixels).
        real = pristine[0] if pristine else (edits[0][0], "original", edits[0][1])
        photos.append(Photo(key=key, real=real, edits=edits))
    return photos
