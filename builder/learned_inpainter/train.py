"""The training loop behind ``inpaintbench train-inpainter``: a GAN-trained inpainting U-Net on free-form holes.

Recipe (docs/learned_inpainter.md says why each choice):
- data: ``photos.TRAIN_PHOTOS`` (Debian opencv-doc), resized to the generator's 512 px long side; each sample a
  square window of ``crop`` .. 2 x ``crop`` px (random position, random horizontal flip) resized to ``crop``;
- masks: ``masks.random_mask`` (strokes, boxes, polygons; 2 - 50 % of the crop);
- generator loss: L1 on the prediction, hole pixels weighted ``hole_weight`` and the rest 1 (Liu et al. 2018's
  weighting, which also keeps the net an identity outside the hole) + ``perceptual_weight`` x the Lite0 LPIPS-
  style distance of the composite + ``adversarial_weight`` x the hinge generator loss (from ``gan_start`` of the
  steps on, so the discriminator does not judge the first, grey fills);
- discriminator: SN-PatchGAN, hinge loss, real photos vs composites, one update per generator update;
- Adam (betas 0.5, 0.999) for both; learning rate constant, then linearly to zero over the last fifth.

Deterministic for a seed: numpy draws every crop, flip and mask; torch's seed initialises the decoder and the
discriminator; the thread count is fixed. ``max_minutes`` stops early (the sidecar then records the steps done,
and ``--steps`` with that number repeats the run).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import photos as photo_sets
from .masks import random_mask
from .model import (
    MODEL_VERSION,
    InpaintNet,
    Lite0Features,
    PatchDiscriminator,
    count_parameters,
    feature_distance,
    load_imagenet,
)

EVAL_SEED = 20240614  # the held-out masks: fixed, independent of the training seed
EVAL_MASKS_PER_PHOTO = 2


@dataclass
class TrainConfig:
    seed: int = 0
    steps: int = 900
    batch: int = 8
    crop: int = 128
    lr: float = 2e-4
    hole_weight: float = 6.0
    perceptual_weight: float = 1.0
    adversarial_weight: float = 0.05
    gan_start: float = 0.25
    threads: int = 2
    max_minutes: float | None = None
    photos_root: str = str(photo_sets.OPENCV_DOC_EXAMPLES)


def _window(rng: np.random.Generator, image: np.ndarray, crop: int) -> np.ndarray:
    h, w = image.shape[:2]
    side = int(rng.integers(min(crop, h, w), min(2 * crop, h, w) + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    window = image[y:y + side, x:x + side]
    if rng.random() < 0.5:
        window = window[:, ::-1]
    if side != crop:
        window = np.asarray(Image.fromarray(np.ascontiguousarray(window)).resize((crop, crop),
                                                                                  Image.Resampling.BILINEAR))
    return window


def batch_of(rng: np.random.Generator, images: list[np.ndarray], size: int, crop: int):
    picks = rng.integers(0, len(images), size)
    crops = np.stack([_window(rng, images[int(i)], crop) for i in picks])
    holes = np.stack([random_mask(rng, crop, crop) for _ in picks])
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    m = torch.from_numpy(holes)[:, None].float()
    return x, m


def code_version() -> dict:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "builder/learned_inpainter"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "note": "not run from a git checkout"}
    return {"git_commit": commit, "learned_inpainter_code_uncommitted": bool(dirty)}


def evaluate(weights: Path, held_out: list[photo_sets.Photo]) -> dict:
    """In-mask quality of the saved (fp16) weights and of OpenCV Telea on the held-out photos, same masks."""
    import cv2

    from .infer import fill
    from .quality import PerceptualDistance, masked_psnr, masked_ssim
    from .weights import load

    net, _ = load(weights)
    distance = PerceptualDistance()
    rng = np.random.default_rng(EVAL_SEED)
    scores: dict[str, list[list[float]]] = {"learned_inpaint": [], "opencv_telea": []}
    for photo in held_out:
        image = photo_sets.as_array(photo)
        for _ in range(EVAL_MASKS_PER_PHOTO):
            hole = random_mask(rng, *image.shape[:2]).astype(bool)
            fills = {"learned_inpaint": fill(net, image, hole),
                     "opencv_telea": cv2.inpaint(image, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)}
            for name, filled in fills.items():
                scores[name].append([masked_psnr(filled, image, hole), masked_ssim(filled, image, hole),
                                     distance(filled, image, hole)])
    return {name: dict(zip(("psnr_db", "ssim", "lite0_lpips"), np.mean(values, axis=0).round(4).tolist(), strict=True))
            | {"masks": len(values)} for name, values in scores.items()}


def train(config: TrainConfig, out_dir: Path, log=print) -> dict:
    from .weights import WEIGHTS_NAME, save

    started = time.time()
    torch.set_num_threads(config.threads)
    root = Path(config.photos_root)
    training = photo_sets.load_set(root, photo_sets.TRAIN_PHOTOS)
    held_out = photo_sets.load_set(root, photo_sets.HELD_OUT_PHOTOS)
    exclusion = photo_sets.check_not_benchmark(training + held_out, photo_sets.benchmark_fingerprints())
    images = [photo_sets.as_array(p) for p in training]

    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    net = InpaintNet()
    load_imagenet(net.encoder)
    disc = PatchDiscriminator()
    features = Lite0Features()
    opt_g = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(0.5, 0.999))
    decay_from = int(config.steps * 0.8)
    gan_from = int(config.steps * config.gan_start)
    net.train()
    disc.train()
    history = []
    step = 0
    for step in range(1, config.steps + 1):
        scale = 1.0 if step <= decay_from else (config.steps - step + 1) / (config.steps - decay_from + 1)
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = config.lr * scale
        x, m = batch_of(rng, images, config.batch, config.crop)
        y = net(x, m)
        composite = y * m + x * (1 - m)
        weight = 1 + (config.hole_weight - 1) * m
        l1 = ((y - x).abs() * weight).mean()
        perceptual = feature_distance(features(composite), features(x)).mean()
        use_gan = step > gan_from
        adversarial = -disc(composite, m).mean() if use_gan else torch.zeros(())
        loss = l1 + config.perceptual_weight * perceptual + (config.adversarial_weight * adversarial if use_gan else 0)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        d_loss = torch.zeros(())
        if use_gan:
            d_loss = torch.relu(1 - disc(x, m)).mean() + torch.relu(1 + disc(composite.detach(), m)).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        history.append([step, round(time.time() - started, 1), l1.item(), perceptual.item(), adversarial.item(),
                        d_loss.item()])
        if step % 10 == 0 or step == 1:
            log(f"step {step}/{config.steps} {time.time() - started:.0f}s l1 {l1.item():.4f} "
                f"perceptual {perceptual.item():.4f} adv {adversarial.item():.3f} d {d_loss.item():.3f}")
        if config.max_minutes and time.time() - started > config.max_minutes * 60:
            log(f"stopped at step {step}: --max-minutes {config.max_minutes} reached")
            break
    wall = time.time() - started
    last = np.array([h[2:] for h in history[-50:]]).mean(axis=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "losses.csv").write_text("step,seconds,l1,perceptual,adversarial_g,discriminator\n" + "".join(
        ",".join(str(v) for v in h) + "\n" for h in history))
    weights = out_dir / WEIGHTS_NAME
    sidecar = {
        "model_version": MODEL_VERSION,
        "parameters": count_parameters(net),
        "config": asdict(config),
        "steps_done": step,
        "wall_minutes": round(wall / 60, 2),
        "torch": torch.__version__,
        "code": code_version(),
        "final_losses_mean_last_50_steps": dict(zip(("l1", "perceptual", "adversarial_g", "discriminator"),
                                                    [round(float(v), 5) for v in last], strict=False)),
        "training_photos": [p.record() for p in training],
        "held_out_photos": [p.record() for p in held_out],
        "photos_root": str(root),
        "benchmark_exclusion": exclusion,
        "loss_history_every_10_steps": [h for h in history if h[0] % 10 == 0],
    }
    save(net, weights, sidecar)
    log("evaluating on the held-out photos")
    sidecar["quality_held_out"] = evaluate(weights, held_out)
    sidecar["quality_held_out"]["method"] = (
        f"{len(held_out)} held-out opencv-doc photos x {EVAL_MASKS_PER_PHOTO} free-form masks (seed {EVAL_SEED}); "
        "in-mask PSNR and SSIM, lite0_lpips on the hole's box (builder.learned_inpainter.quality)")
    save(net, weights, sidecar)  # again, with the figures: the weights bytes (and their sha256) do not change
    return sidecar
