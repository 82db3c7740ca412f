"""The training set as seeded random crops of a fixed size, with flips, the mask cropped and flipped alike.

An epoch holds one crop of every inpainted image plus ``n_pristine`` crops of pristine photos, where the
pristine crops are ``pristine_ratio`` of the epoch (0: inpainted images only). Pristine crops teach "no
forgery here" (an empty mask); inpainted crops teach where.

Inpainted crops are placed around a random mask pixel (the pixel lands anywhere in the crop): masks cover a few
percent of an image, and a uniform crop would often miss the forgery and teach "always pristine". Pristine
crops are uniform. Images smaller than the crop are reflect-padded, with the padding's mask empty. Every draw
comes from a ``numpy`` generator seeded by (seed, epoch, position in the epoch): the same crops for the same
seed, whatever the number of DataLoader workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from inpaintbench.gt_mask import binarize_gt
from inpaintbench.harness.records import rgb_array


@dataclass
class LoadedImage:
    sample_id: str
    image: np.ndarray  # H x W x 3 uint8
    mask: np.ndarray  # H x W bool
    inpainted: bool


def load_images(dataset, where: str, progress: bool = True) -> list[LoadedImage]:
    """Decode every row once (the train split is ~100 images: memory is not the constraint, decoding is)."""
    view = dataset.select_columns(["sample_id", "label", "image", "mask"])
    out = []
    for index in tqdm(range(len(view)), desc="decode", unit="img", disable=not progress):
        row = view[index]
        image, mask = rgb_array(row["image"]), binarize_gt(row["mask"])
        if image.shape[:2] != mask.shape:
            raise ValueError(
                f"{where}: sample {row['sample_id']}: image {image.shape[:2]} and mask {mask.shape} sizes differ"
            )
        inpainted = int(row["label"]) == 1
        if inpainted and not mask.any():
            raise ValueError(f"{where}: sample {row['sample_id']}: labelled inpainted but its mask is empty")
        out.append(LoadedImage(row["sample_id"], image, mask, inpainted))
    return out


def pristine_count(n_inpainted: int, n_pristine_images: int, ratio: float, where: str) -> int:
    """Pristine crops per epoch so that they are ``ratio`` of the epoch's crops."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pristine ratio must lie in [0, 1), got {ratio}")
    if n_inpainted == 0:
        raise ValueError(f"{where}: no inpainted image to train on")
    if ratio > 0 and n_pristine_images == 0:
        raise ValueError(f"{where}: pristine ratio {ratio} asked for, but the split holds no pristine image")
    return round(n_inpainted * ratio / (1.0 - ratio))


def _pad_to(image: np.ndarray, mask: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = mask.shape
    ph, pw = max(crop - h, 0), max(crop - w, 0)
    if not ph and not pw:
        return image, mask
    image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
    return image, np.pad(mask, ((0, ph), (0, pw)), mode="constant")


def random_crop(item: LoadedImage, crop: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(crop x crop x 3 uint8, crop x crop float32 0/1): around a mask pixel if inpainted, else uniform; flips."""
    image, mask = _pad_to(item.image, item.mask, crop)
    h, w = mask.shape
    if item.inpainted:
        ys, xs = np.nonzero(item.mask)
        k = int(rng.integers(ys.size))
        y0 = int(np.clip(ys[k] - rng.integers(crop), 0, h - crop))
        x0 = int(np.clip(xs[k] - rng.integers(crop), 0, w - crop))
    else:
        y0, x0 = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
    img = image[y0 : y0 + crop, x0 : x0 + crop]
    msk = mask[y0 : y0 + crop, x0 : x0 + crop]
    if rng.random() < 0.5:
        img, msk = img[:, ::-1], msk[:, ::-1]
    if rng.random() < 0.5:
        img, msk = img[::-1], msk[::-1]
    return np.array(img, dtype=np.uint8), np.array(msk, dtype=np.float32)  # copies: crops of read-only arrays


class CropEpochs(torch.utils.data.Dataset):
    """Crops of one epoch; call ``set_epoch`` before iterating (the epoch seeds which pristine photos and which
    crops). Items: (3 x crop x crop float32 in 0..255, 1 x crop x crop float32 mask)."""

    def __init__(self, images: list[LoadedImage], crop: int, pristine_ratio: float, seed: int, where: str) -> None:
        self.inpainted = [im for im in images if im.inpainted]
        self.pristine = [im for im in images if not im.inpainted]
        self.crop, self.seed = int(crop), int(seed)
        self.n_pristine = pristine_count(len(self.inpainted), len(self.pristine), pristine_ratio, where)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch, 0])
        chosen = rng.integers(len(self.pristine), size=self.n_pristine) if self.n_pristine else []
        self.epoch = epoch
        self.items = self.inpainted + [self.pristine[int(i)] for i in chosen]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, 1, index])
        image, mask = random_crop(self.items[index], self.crop, rng)
        return torch.from_numpy(image).permute(2, 0, 1).float(), torch.from_numpy(mask)[None]
