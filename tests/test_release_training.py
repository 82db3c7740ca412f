"""A release of mixed image sizes through ``builder.release.batching.fixed_size`` into a torch DataLoader.

The release is real (generator output -> ``prepare_release`` with small files, so each split spans several
Parquet files), read back with ``datasets.load_dataset("parquet", ...)``, in memory and streamed, and batched by
``torch.utils.data.DataLoader(batch_size=4, num_workers=2)``. Every check runs against an attack it must catch:
the untransformed release (the size error), a shifted mask (misalignment), a resampled crop (not the photo's own
pixels), a stream that ignores worker sharding (duplicates).
"""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from tests.helpers.release_rows import make_rows, write_generator_output, write_split_config

pytestmark = pytest.mark.slow  # a release build and DataLoaders with worker processes: ~15 s

SIZE = 32  # the fixed size: the photos below are smaller, larger and of another aspect ratio
SMALL_FILES = 3000  # bytes per release file: every split spans several files
BATCH, WORKERS = 4, 2
# (height, width) of each group of 3 photos (9 samples): square and not, below and above SIZE.
PHOTO_SIZES = ((16, 16), (24, 24), (40, 40), (20, 36), (36, 20))


def _png(array: np.ndarray) -> bytes:
    from inpaintbench.builder.shards import encode_png  # the generator's one encoder: write_shard accepts nothing else

    return encode_png(Image.fromarray(array))


def _decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def sized_rows(first_photo: int, height: int, width: int) -> list[dict]:
    """make_rows' samples (square, mask inside rows 4-9 and columns 3-12) cut to height x width (new pixels,
    so new ids: ids name their content)."""
    from inpaintbench.ids import recompute_sample_id

    rows = make_rows(range(first_photo, first_photo + 3), size=max(height, width))
    for row in rows:
        for column in ("image", "mask", "original"):
            row[column] = _png(_decoded(row[column])[:height, :width])
        row.update(height=height, width=width, mask_area_fraction=float((_decoded(row["mask"]) > 0).mean()))
        row["sample_id"] = recompute_sample_id(row)
    return rows


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(split files, {sample_id: (image, mask, original) arrays}) of the train split of a mixed-size release."""
    from inpaintbench.builder.release.build import prepare_release
    from inpaintbench.builder.release.splits import load_split_config

    root = tmp_path_factory.mktemp("training")
    write_split_config(root / "splits.yaml")
    rows = [row for i, (h, w) in enumerate(PHOTO_SIZES) for row in sized_rows(3 * i, h, w)]
    write_generator_output(root / "gen", rows)
    folder, summary, _ = prepare_release(root / "gen", load_split_config(root / "splits.yaml"), "1.0.0", None,
                                         dest=root / "release", max_shard_bytes=SMALL_FILES)
    files = [str(folder / f) for f in summary["configs"]["default"]["splits"]["train"]["files"]]
    pixels = {r["sample_id"]: tuple(_decoded(r[c]) for c in ("image", "mask", "original")) for r in rows}
    return files, pixels, root


@pytest.fixture(scope="module")
def train(release):
    import datasets

    files, pixels, root = release
    ds = datasets.load_dataset("parquet", data_files={"train": files}, split="train", cache_dir=str(root / "cache"))
    sizes = {pixels[i][0].shape[:2] for i in ds["sample_id"]}
    assert len(files) > 1 and len(sizes) >= 4, (len(files), sizes)  # what makes the test mean something
    return ds


def loader(dataset, workers: int = WORKERS):
    import torch

    torch.set_num_threads(1)
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=workers)


def batched(dataset, mode: str, seed: int | None = None, workers: int = WORKERS) -> list[dict]:
    from inpaintbench.builder.release.batching import fixed_size

    transform = fixed_size(SIZE, columns=("image", "mask", "original"), mode=mode, seed=seed)
    return list(loader(dataset.with_transform(transform), workers))


def examples(batches: list[dict]):
    for batch in batches:
        for i, sample_id in enumerate(batch["sample_id"]):
            yield sample_id, {k: v[i] for k, v in batch.items() if k != "sample_id"}


def misaligned(example: dict, exact: bool) -> str | None:
    """Why the mask does not sit on the pixels that differ between image and original, or None.

    Exactly (crop, no resampling): changed pixels == mask. Resampled (BILINEAR image, NEAREST mask): every mask
    pixel changed, and no change beyond 2 pixels of the mask (the kernel reaches one source pixel past an edge,
    at most 2 output pixels for the largest scale here, 32/16)."""
    import torch

    changed = (example["image"] - example["original"]).abs().amax(0) > 0
    mask = example["mask"][0].bool()
    if exact:
        return None if torch.equal(changed, mask) else f"{int((changed ^ mask).sum())} pixels differ"
    near = torch.nn.functional.max_pool2d(mask[None, None].float(), 5, 1, 2)[0, 0].bool()
    if (mask & ~changed).any():
        return f"{int((mask & ~changed).sum())} mask pixels unchanged"
    if (changed & ~near).any():
        return f"{int((changed & ~near).sum())} changed pixels off the mask"
    return None


def window_of(photo: np.ndarray, patch: np.ndarray) -> tuple[int, int] | None:
    """Where ``patch`` lies, byte for byte, in ``photo`` (None: nowhere, i.e. resampled)."""
    h, w = patch.shape[:2]
    for y in range(photo.shape[0] - h + 1):
        for x in range(photo.shape[1] - w + 1):
            if np.array_equal(photo[y : y + h, x : x + w], patch):
                return y, x
    return None


def test_without_the_transform_a_batch_of_mixed_sizes_fails(train):
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        list(loader(train.with_format("torch")))


@pytest.mark.parametrize("mode", ["letterbox", "resize", "crop"])
def test_fixed_size_batches_with_binary_masks_on_the_changed_pixels(train, release, mode):
    import torch

    _, pixels, _ = release
    batches = batched(train, mode)
    seen = Counter()
    for batch in batches:
        n = len(batch["sample_id"])
        assert (
            batch["image"].shape == batch["original"].shape == (n, 3, SIZE, SIZE)
            and batch["image"].dtype == torch.float32
        )
        assert batch["mask"].shape == batch["valid"].shape == (n, 1, SIZE, SIZE)
        assert batch["mask"].dtype == torch.uint8 and batch["valid"].dtype == torch.bool
        assert batch["label"].dtype == torch.int64 and batch["label"].shape == (n,)
        assert 0 <= batch["image"].min() and batch["image"].max() <= 1
        assert set(batch["mask"].unique().tolist()) <= {0, 1}
        assert set(batch) == {"image", "mask", "original", "valid", "label", "sample_id"}
    for sample_id, example in examples(batches):
        seen[sample_id] += 1
        image, mask, _ = pixels[sample_id]
        assert example["label"] == int(mask.any())
        assert misaligned(example, exact=mode == "crop") is None, sample_id
        # Padding is zero everywhere and never inpainted.
        assert not example["image"][:, ~example["valid"][0]].any() and not example["mask"][~example["valid"]].any()
        h, w = image.shape[:2]
        if mode == "resize":
            assert example["valid"].all()
        elif mode == "letterbox":
            rows, cols = example["valid"][0].any(1).sum(), example["valid"][0].any(0).sum()
            assert max(rows, cols) == SIZE and abs(rows / cols - h / w) < 0.1
        else:
            assert example["valid"].sum() == min(h, SIZE) * min(w, SIZE)
    assert set(seen) == set(train["sample_id"]) and set(seen.values()) == {1}


@pytest.mark.parametrize("mode, shift", [("letterbox", 3), ("resize", 3), ("crop", 1)])
def test_a_shifted_mask_is_caught_by_the_alignment_check(train, mode, shift):
    import torch

    inpainted = [e for _, e in examples(batched(train, mode)) if e["label"] == 1 and e["mask"].any()]
    assert len(inpainted) >= 5
    for example in inpainted:  # the attack: the mask a few pixels off the edit (along the width)
        shifted = {**example, "mask": torch.roll(example["mask"], shifts=shift, dims=2)}
        assert misaligned(shifted, exact=mode == "crop") is not None


def test_crop_keeps_the_photos_own_pixels_and_resampling_does_not(train, release):
    _, pixels, _ = release
    as_bytes = lambda t: (t.permute(1, 2, 0) * 255).round().byte().numpy()  # noqa: E731  exact for x/255 floats
    crop = dict(examples(batched(train, "crop")))
    letterbox = dict(examples(batched(train, "letterbox")))
    for sample_id, example in crop.items():
        image = pixels[sample_id][0]
        valid = example["valid"][0].numpy()
        rows, cols = np.flatnonzero(valid.any(1)), np.flatnonzero(valid.any(0))
        patch = as_bytes(example["image"])[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = image.shape[:2]
        # The centre window (seed=None), byte for byte.
        assert window_of(image, patch) == (max(h - SIZE, 0) // 2, max(w - SIZE, 0) // 2), sample_id
        # The attack: a resampled photo (every size here differs from SIZE) is nowhere in the original.
        resampled = letterbox[sample_id]
        valid = resampled["valid"][0].numpy()
        rows, cols = np.flatnonzero(valid.any(1)), np.flatnonzero(valid.any(0))
        assert window_of(image, as_bytes(resampled["image"])[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]) is None


def test_seeded_crops_are_the_same_in_any_worker_and_differ_between_seeds(train, release):
    import torch

    _, pixels, _ = release
    by_workers = [dict(examples(batched(train, "crop", seed=7, workers=n))) for n in (0, WORKERS)]
    other_seed = dict(examples(batched(train, "crop", seed=8)))
    moved = 0
    for sample_id, example in by_workers[0].items():
        assert all(torch.equal(example[k], by_workers[1][sample_id][k]) for k in example)
        assert misaligned(example, exact=True) is None
        moved += not torch.equal(example["image"], other_seed[sample_id]["image"])
    larger = sum(1 for i in by_workers[0] if max(pixels[i][0].shape[:2]) > SIZE)
    assert larger and moved >= larger // 2  # another seed draws other windows (the odd one may coincide)


def test_stream_of_several_files_yields_each_sample_once_across_workers(release, train):
    import datasets
    import pyarrow.parquet as pq
    import torch

    from inpaintbench.builder.release.batching import fixed_size

    files, _, _ = release
    stream = datasets.load_dataset("parquet", data_files={"train": files}, split="train", streaming=True)
    assert stream.n_shards == len(files) > 1 and stream.n_shards >= WORKERS
    batches = list(loader(stream.map(fixed_size(SIZE), remove_columns=stream.column_names)))
    assert all(b["image"].shape[1:] == (3, SIZE, SIZE) and b["mask"].shape[1:] == (1, SIZE, SIZE) for b in batches)
    counts = Counter(i for b in batches for i in b["sample_id"])
    assert counts == Counter(train["sample_id"])  # every sample, exactly once

    class Unsharded(torch.utils.data.IterableDataset):
        """The attack: a stream that ignores which worker it runs in."""

        def __iter__(self):
            for path in files:
                yield from pq.read_table(path, columns=["sample_id"]).column("sample_id").to_pylist()

    naive = Counter(i for b in loader(Unsharded()) for i in b)
    assert set(naive) == set(counts) and naive != counts and set(naive.values()) == {WORKERS}


def test_bad_arguments_and_inputs_are_named(train):
    from inpaintbench.builder.release.batching import fixed_size

    for kwargs, message in (
        (dict(size=0), "size must be a positive int"),
        (dict(mode="stretch"), "mode must be one of"),
        (dict(mode="letterbox", seed=1), "seed picks crop windows"),
        (dict(columns=("image", "image")), "distinct column names"),
    ):
        with pytest.raises(ValueError, match=message):
            fixed_size(**kwargs)
    example = dict(train[0])
    sample_id = example["sample_id"]
    with pytest.raises(KeyError, match=f"{sample_id}.*no column.*'original'"):
        fixed_size(columns=("image", "original"))({k: v for k, v in example.items() if k != "original"})
    with pytest.raises(ValueError, match=f"'{sample_id}': mask is 5x5 but image is"):
        fixed_size()({**example, "mask": example["mask"].crop((0, 0, 5, 5))})
    colour = Image.fromarray(np.dstack([np.zeros((example["height"], example["width"]), np.uint8)] * 2
                                       + [np.full((example["height"], example["width"]), 255, np.uint8)]))
    with pytest.raises(ValueError, match=f"'{sample_id}': mask: .*colour image"):
        fixed_size()({**example, "mask": colour})
    with pytest.raises(TypeError, match=f"{sample_id}.*'image' holds dict, not a decoded PIL image"):
        fixed_size()({**example, "image": {"bytes": b"", "path": None}})
    one = fixed_size(SIZE)(example)  # an example (IterableDataset.map), not a batch
    assert one["image"].shape == (3, SIZE, SIZE) and one["sample_id"] == sample_id and one["label"].ndim == 0
