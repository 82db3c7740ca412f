"""The learned inpainter (``learned_inpaint``) against the classical backends: fill quality and CPU time.

Two evaluation sets, every backend on the same masks:

- ``held_out``: the opencv-doc photos never trained on (``photos.HELD_OUT_PHOTOS``), each with 3 seeded
  free-form masks (``masks.random_mask``, seed 7, the training mask distribution): the hole's true content is the
  photo's, so PSNR / SSIM / perceptual distance against the original measure reconstruction, as inpainting
  papers report it;
- ``embedded_objects``: the embedded benchmark photos with their real annotated object masks (one object per
  photo, dilated 7 px as the generator's dilation covers an object's rim). Here the original inside the hole is
  the object itself: a removal *should* differ from it; the figures say how close each backend's fill comes to the
  object it removes (lower = less of the object restored), not how good the fill is. Only eval: never trained on.

Metrics (builder.learned_inpainter.quality): in-mask PSNR, SSIM averaged over the hole, and ``lite0_lpips``, an
LPIPS-style distance on ImageNet EfficientNet-Lite0 features over the hole's box (which the learned model's
perceptual loss also uses: it favours it; PSNR and SSIM do not). Time: median seconds of one fill of a
512 x 512 image with a 25 % box hole (5 runs after a warm-up), torch pinned to 2 threads; the load average of
the (shared) machine is printed beside it.

    .venv/bin/python benchmarks/learned_inpainter.py         # ~5-10 min on 2 shared cores
    .venv/bin/python benchmarks/learned_inpainter.py --losses RUN/losses.csv   # also draw the loss curves

Writes benchmarks/results/learned_inpainter.txt, docs/img/learned_inpainter_grid.jpg and, with --losses,
docs/img/learned_inpainter_losses.png.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # the repository root, for tests.helpers (object_masks: one reader of the annotations)

from inpaintbench.builder.backends import InpaintRequest, create_backend  # noqa: E402
from inpaintbench.builder.learned_inpainter import photos as photo_sets  # noqa: E402
from inpaintbench.builder.learned_inpainter.masks import random_mask  # noqa: E402
from inpaintbench.builder.learned_inpainter.quality import PerceptualDistance, masked_psnr, masked_ssim  # noqa: E402

BACKENDS = ("opencv_telea", "opencv_ns", "patchmatch", "learned_inpaint")
MASK_SEED = 7
MASKS_PER_PHOTO = 3
DILATE_PX = 7


def held_out_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(MASK_SEED)
    cases = []
    for photo in photo_sets.load_set(photo_sets.OPENCV_DOC_EXAMPLES, photo_sets.HELD_OUT_PHOTOS):
        image = photo_sets.as_array(photo)
        for k in range(MASKS_PER_PHOTO):
            cases.append((f"{photo.relative_path}#{k}", image, random_mask(rng, *image.shape[:2]).astype(bool)))
    return cases


def object_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    from tests.helpers.embedded_objects import object_masks

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * DILATE_PX + 1, 2 * DILATE_PX + 1))
    return [(name, photo, cv2.dilate(hole.astype(np.uint8), kernel).astype(bool))
            for name, photo, hole in object_masks(100)]


def run_set(backends: dict, cases, distance: PerceptualDistance) -> tuple[dict, dict]:
    scores = {name: [] for name in backends}
    fills = {}
    for case, image, hole in cases:
        request = InpaintRequest(Image.fromarray(image), Image.fromarray(hole.astype(np.uint8) * 255), seed=0)
        for name, backend in backends.items():
            filled = np.asarray(backend.inpaint(request).image)
            fills[(case, name)] = filled
            scores[name].append((masked_psnr(filled, image, hole), masked_ssim(filled, image, hole),
                                 distance(filled, image, hole)))
    return {name: np.mean(values, axis=0) for name, values in scores.items()}, fills


def seconds_per_512(backend) -> float:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)  # photo-like smoothness, so PatchMatch does its usual work
    mask = np.zeros((512, 512), np.uint8)
    mask[128:384, 128:384] = 255
    request = InpaintRequest(Image.fromarray(image), Image.fromarray(mask), seed=0)
    backend.inpaint(request)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        backend.inpaint(request)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def grid(rows, fills, path: Path, cell: int = 220) -> None:
    columns = ["original", "mask"] + list(BACKENDS)
    header = 18
    sheet = Image.new("RGB", (cell * len(columns), header + cell * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(columns):
        draw.text((c * cell + 4, 3), title, fill="black")
    for r, (case, image, hole) in enumerate(rows):
        shown = image.copy()
        shown[hole] = (0.4 * shown[hole] + 0.6 * np.array([255, 0, 255])).astype(np.uint8)
        tiles = [image, shown] + [fills[(case, name)] for name in BACKENDS]
        for c, tile in enumerate(tiles):
            thumb = Image.fromarray(tile)
            thumb.thumbnail((cell, cell), Image.Resampling.LANCZOS)
            sheet.paste(thumb, (c * cell, header + r * cell))
        draw.text((4, header + r * cell + cell - 14), case, fill="yellow")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=88)


def loss_plot(csv_path: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.genfromtxt(csv_path, delimiter=",", names=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    window = max(1, min(15, len(data) // 4))

    def smooth(values):
        return np.convolve(values, np.ones(window) / window, mode="valid")

    steps = data["step"][window - 1:]
    for ax, names, title in ((axes[0], ("l1",), "L1 (hole x6)"), (axes[1], ("perceptual",), "Lite0 perceptual"),
                             (axes[2], ("adversarial_g", "discriminator"), "hinge GAN")):
        for name in names:
            ax.plot(data["step"], data[name], alpha=0.25)
            ax.plot(steps, smooth(data[name]), label=f"{name} ({window}-step mean)")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.suptitle(f"learned_inpaint training ({csv_path.name}; {int(data['step'][-1])} steps, "
                 f"{data['seconds'][-1] / 60:.0f} min on 2 shared CPU cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", type=Path, help="a training run's losses.csv: draw the loss curves")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "learned_inpainter.txt")
    parser.add_argument("--grid", type=Path, default=ROOT / "docs" / "img" / "learned_inpainter_grid.jpg")
    args = parser.parse_args()

    backends = {name: create_backend(name) for name in BACKENDS}
    sidecar = backends["learned_inpaint"].sidecar
    distance = PerceptualDistance()
    lines = [f"learned_inpaint {sidecar['weights_sha256'][:16]} ({sidecar['steps_done']} steps, "
             f"{sidecar['wall_minutes']} min, code {str(sidecar['code'].get('git_commit'))[:12]}) vs classical",
             "in-mask PSNR (dB, higher better), SSIM over the hole (higher better), lite0_lpips (lower better)", ""]
    sets = {"held_out": held_out_cases(), "embedded_objects": object_cases()}
    all_fills = {}
    for set_name, cases in sets.items():
        means, fills = run_set(backends, cases, distance)
        all_fills.update(fills)
        lines.append(f"{set_name}: {len(cases)} masks, mean hole {np.mean([h.mean() for _, _, h in cases]):.1%}")
        lines.append(f"  {'backend':<16} {'PSNR':>7} {'SSIM':>7} {'lpips':>7}")
        for name, (psnr, ssim, lpips) in means.items():
            lines.append(f"  {name:<16} {psnr:7.2f} {ssim:7.3f} {lpips:7.3f}")
        lines.append("")
    load = os.getloadavg()[0]
    lines.append(f"seconds per 512x512 fill (25% box hole, median of 5; load average {load:.1f} on "
                 f"{os.cpu_count()} cores: teammates share them)")
    for name, backend in backends.items():
        lines.append(f"  {name:<16} {seconds_per_512(backend):7.3f}")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)
    held, objects = sets["held_out"], sets["embedded_objects"]
    rows = [held[0], held[4], held[9], objects[0], objects[2], objects[5]]
    grid(rows, all_fills, args.grid)
    if args.losses:
        loss_plot(args.losses, args.grid.with_name("learned_inpainter_losses.png"))
    print(json.dumps({"wrote": [str(args.out), str(args.grid)]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
