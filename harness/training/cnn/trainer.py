"""Train the CNN on a training split: seeded crops, AdamW, BCE + Dice, validation each epoch, best epoch kept.

Determinism: ``torch.manual_seed(seed)`` before the network is built, a ``torch.Generator`` seeded from the
seed for the batch order, crops drawn from numpy generators keyed by (seed, epoch, index) (``crops``), and
no DataLoader workers (``num_workers=0``: the crops come from memory and worker start-up would cost more than
it saves on 2 cores). Two runs with the same seed and options on the same machine give identical weights. After
each epoch the BatchNorm statistics are re-estimated with that epoch's final weights (``batchnorm``), before validation.

The epoch kept is the one with the best validation ``pixel_f1_mean`` (ties: image AUC, then the earlier
epoch); with no validation split, the last one. Test splits are never read here.
"""

from __future__ import annotations

import copy
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from inpaintbench.harness.training.cnn.batchnorm import recalibrate_batchnorm
from inpaintbench.harness.training.cnn.crops import CropEpochs, LoadedImage, load_images
from inpaintbench.harness.training.cnn.inference import DEFAULT_TOP, predict_map, top_fraction_mean
from inpaintbench.harness.training.cnn.loss import bce_dice_loss
from inpaintbench.harness.training.cnn.model import ENCODER_NAME, MODEL_VERSION, STRIDE, build_model
from inpaintbench.harness.training.cnn.validation import score_maps
from inpaintbench.harness.training.data import TrainingData


@dataclass
class CNNTrainOptions:
    epochs: int = 12
    crop: int = 256  # px, a multiple of 32
    batch: int = 8
    pristine_ratio: float = 0.0  # share of an epoch's crops taken from pristine photos
    seed: int = 0
    init: str = "imagenet"  # or "random"
    lr: float = 1e-3  # decoder; the encoder gets lr * encoder_lr_scale when ImageNet-initialised
    encoder_lr_scale: float = 0.1  # keep the pretrained filters close to ImageNet on ~100 images
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    drop_connect_rate: float = 0.0
    top: float = DEFAULT_TOP  # image score = mean of the map's top fraction
    progress: bool = True

    def check(self) -> None:
        if self.epochs < 1 or self.batch < 1:
            raise ValueError(f"epochs and batch must be >= 1, got {self.epochs} and {self.batch}")
        if self.crop < STRIDE or self.crop % STRIDE:
            raise ValueError(f"crop must be a positive multiple of {STRIDE} px, got {self.crop}")
        if self.init not in ("imagenet", "random"):
            raise ValueError(f"init must be 'imagenet' or 'random', got {self.init!r}")


@dataclass
class TrainResult:
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


def _optimizer(net, opts: CNNTrainOptions) -> torch.optim.Optimizer:
    encoder = list(net.encoder.parameters())
    rest = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
    scale = opts.encoder_lr_scale if opts.init == "imagenet" else 1.0
    return torch.optim.AdamW([{"params": encoder, "lr": opts.lr * scale}, {"params": rest, "lr": opts.lr}],
                             weight_decay=opts.weight_decay)


def _validation_key(metrics: dict) -> tuple[float, float]:
    return (metrics.get("pixel_f1_mean") or 0.0, metrics.get("image_auc") or 0.0)


def train_cnn(training: TrainingData, opts: CNNTrainOptions, validation=None) -> TrainResult:
    """Fit on ``training`` (train split only); ``validation``: a dataset of the validation split, or None."""
    opts.check()
    where = str(training.identity.get("path"))
    started = time.perf_counter()
    images = load_images(training.dataset, where, opts.progress)
    val_images: list[LoadedImage] = (
        load_images(validation, f"{where} (validation)", opts.progress)
        if validation is not None and len(validation)
        else []
    )
    crops = CropEpochs(images, opts.crop, opts.pristine_ratio, opts.seed, where)
    net = build_model(opts.init, opts.seed, opts.drop_connect_rate)
    optimizer = _optimizer(net, opts)
    total_steps = opts.epochs * -(-len(crops) // opts.batch)
    # cosine decay to 0 over the run: the usual fine-tuning schedule, no extra knob to tune
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    order = torch.Generator().manual_seed(opts.seed)

    def predict(image: np.ndarray):
        heat = predict_map(net, image)
        return heat, top_fraction_mean(heat, opts.top)

    history, best, best_state = [], None, None
    bar = tqdm(range(opts.epochs), desc="cnn epochs", unit="epoch", disable=not opts.progress)
    for epoch in bar:
        crops.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(crops, batch_size=opts.batch, shuffle=True, generator=order, num_workers=0)
        net.train()
        losses = []
        for x, y in loader:
            loss = bce_dice_loss(net(x), y, opts.dice_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        # the epoch's crops again, in order (no draw from ``order``): BN statistics for the weights just reached
        recalibrate_batchnorm(net, torch.utils.data.DataLoader(crops, batch_size=opts.batch, shuffle=False))
        record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "crops": len(crops)}
        if val_images:
            metrics = score_maps(predict, val_images)
            record.update(
                {k: metrics.get(k) for k in ("pixel_f1_mean", "pixel_iou_mean", "pixel_auc_pooled", "image_auc")}
            )
            if best is None or _validation_key(metrics) > _validation_key(best):
                best, best_state = {**record}, copy.deepcopy(net.state_dict())
        history.append(record)
        bar.set_postfix(loss=f"{record['train_loss']:.3f}", val_f1=record.get("pixel_f1_mean"))
    if best_state is None:  # no validation split: the last epoch
        best, best_state = history[-1], copy.deepcopy(net.state_dict())
    meta = {
        "training_data": training.identity,
        "training_backends": list(training.backends),
        "seed": opts.seed,
        "init": opts.init,
        "encoder": ENCODER_NAME,
        "model_version": MODEL_VERSION,
        "options": {k: v for k, v in asdict(opts).items() if k != "progress"},
        "counts": {
            "inpainted_images": len(crops.inpainted),
            "pristine_images": len(crops.pristine),
            "pristine_crops_per_epoch": crops.n_pristine,
            "validation_images": len(val_images),
        },
        "best_epoch": best["epoch"],
        "selection": "validation pixel_f1_mean (ties: image_auc, then earlier)"
        if val_images
        else "last epoch (no validation split)",
        "history": history,
        "image_score": f"mean of the top {opts.top:g} of the map",
        "inference": "whole image, reflect-padded to a multiple of 32",
        "torch_version": torch.__version__,
        "timing": {
            "train_s": round(time.perf_counter() - started, 2),
            "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        },
    }
    return TrainResult(best_state, meta, history)
