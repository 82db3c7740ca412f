"""How a diffusion model's output becomes a sample: working sizes, paste-back/feathered blend, upscaling.

Diffusion models only run at certain sizes (latents are 1/8 of the image, transformers patch them again) and
look best near the size they were trained at, so each family has a ``SizeRule``. The model works at that size and
its output is brought back to the original's size. Two strategies are recorded per sample because detectors
behave very differently on them:

- ``full_regeneration``: the pipeline's output as is (every pixel went through the VAE), resized back;
- ``paste_back``: original pixels outside the mask, the model's pixels inside, optionally feathered or
  Poisson-blended. Every changed pixel stays inside the recorded mask, so the ground truth stays exact.

Model-based upscaling lives with the backends (builder.backends.upscalers): it needs a pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

STRATEGY_CHOICES = ("full_regeneration", "paste_back")
# A backend param, not a sample's strategy: one model call gives a paste_back sample and a full_regeneration one.
BOTH_STRATEGIES = "both"
# How paste-back joins the generated region to the original: a (feathered) alpha blend, or Poisson blending
# (gradient-domain, as HD-Painter does) which matches the fill's colours to its surroundings.
BLEND_CHOICES = ("alpha", "poisson")
UPSCALE_METHODS = ("lanczos",)
MAX_UPSCALE_LONG_SIDE = 2048


@dataclass(frozen=True)
class SizeRule:
    """Where a model family works: sides are multiples of ``multiple``; either the long side is ``long_side`` or
    the area is about ``area`` pixels (SDXL-style "around 1024"); the long side never exceeds ``max_long_side``."""

    multiple: int
    long_side: int | None = None
    area: int | None = None
    max_long_side: int = 2048

    def __post_init__(self) -> None:
        if (self.long_side is None) == (self.area is None):
            raise ValueError("a SizeRule needs exactly one of long_side or area")


def _round_to(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def working_size(width: int, height: int, rule: SizeRule, long_side: int | None = None) -> tuple[int, int]:
    """The (width, height) a family works at for a ``width`` x ``height`` image: aspect kept, sides rounded to
    the rule's multiple, long side capped. ``long_side`` overrides the rule's target (e.g. tiny test models)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if long_side is not None:
        scale = long_side / max(width, height)
    elif rule.long_side is not None:
        scale = rule.long_side / max(width, height)
    else:
        scale = math.sqrt(rule.area / (width * height))
    cap = max(
        rule.multiple, (min(rule.max_long_side, long_side or rule.max_long_side) // rule.multiple) * rule.multiple
    )
    scale = min(scale, cap / max(width, height))
    w, h = _round_to(width * scale, rule.multiple), _round_to(height * scale, rule.multiple)
    # Rounding up can push the long side one multiple over the cap.
    while max(w, h) > cap:
        w, h = (w - rule.multiple, h) if w >= h else (w, h - rule.multiple)
    return w, h


def shrink_size(
    size: tuple[int, int], rule: SizeRule, min_long_side: int, factor: float = 0.75
) -> tuple[int, int] | None:
    """A smaller working size for an out-of-memory retry (aspect kept), or None below ``min_long_side``."""
    width, height = size
    target = int(max(width, height) * factor)
    if target < min_long_side or target < rule.multiple:
        return None
    smaller = working_size(width, height, rule, long_side=target)
    return smaller if smaller[0] * smaller[1] < width * height else None


def binary_mask(mask: Image.Image) -> np.ndarray:
    """The mask as a bool array (True = inpaint), thresholded at half like the classical backends."""
    return np.asarray(mask if mask.mode == "L" else mask.convert("L")) > 127


def _rgb(image: Image.Image) -> Image.Image:
    # convert() copies even when the mode already matches: a 2048 px copy is not free.
    return image if image.mode == "RGB" else image.convert("RGB")


def resize_for_model(image: Image.Image, mask: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """Image and mask at the working size. A working pixel is masked if ANY original pixel under it is, so the
    generated region always covers the original mask and paste-back never exposes unpainted pixels."""
    resized_image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    coverage = Image.fromarray(binary_mask(mask).astype(np.uint8) * 255).resize(size, Image.Resampling.BOX)
    resized_mask = Image.fromarray(((np.asarray(coverage) > 0) * 255).astype(np.uint8), mode="L")
    return resized_image, resized_mask


def upscale(image: Image.Image, size: tuple[int, int], method: str = "lanczos") -> Image.Image:
    """Bring a working-size output to ``size`` (up or down)."""
    if method not in UPSCALE_METHODS:
        raise ValueError(f"unknown upscale method {method!r}; known: {', '.join(UPSCALE_METHODS)}")
    if image.size == tuple(size):
        return image
    return image.resize(size, Image.Resampling.LANCZOS)


def upscale_sample(original: Image.Image, mask: Image.Image, long_side: int) -> tuple[Image.Image, Image.Image]:
    """Upscale a source photo and its mask to ``long_side`` (at most 2048 px, as SAGI's HD outputs) before
    inpainting, for configs that want high-resolution samples. Never downscales."""
    if not 0 < long_side <= MAX_UPSCALE_LONG_SIDE:
        raise ValueError(f"upscale long side must be in 1..{MAX_UPSCALE_LONG_SIDE}, got {long_side}")
    width, height = original.size
    if max(width, height) >= long_side:
        return original, mask
    scale = long_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    up_mask = mask.convert("L").resize(size, Image.Resampling.NEAREST)
    return original.convert("RGB").resize(size, Image.Resampling.LANCZOS), up_mask


def feather_alpha(mask: np.ndarray, radius: float) -> np.ndarray:
    """Blend weights in [0, 1] for the generated image: 1 deep inside the mask, ramping down towards its edge.

    The ramp lies INSIDE the mask (erode, then blur) and the weights are zeroed outside it, so every pixel that
    differs from the original stays inside the recorded ground-truth mask.
    """
    hard = mask.astype(np.float32)
    if radius <= 0:
        return hard
    r = int(math.ceil(radius))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    core = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if not core.any():  # a mask thinner than the feather: blur the mask itself rather than erase the edit
        core = mask.astype(np.uint8)
    soft = cv2.GaussianBlur(core.astype(np.float32), (0, 0), sigmaX=max(radius / 2.0, 0.5))
    # Re-normalise so the centre of the mask is fully generated even after the blur.
    peak = soft.max()
    soft = np.clip(soft / peak, 0.0, 1.0) if peak > 0 else soft
    return soft * hard


def _mask_window(inside: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The mask's bounding box grown by ``margin`` (clamped): all of the work of a blend happens in there."""
    x, y, w, h = cv2.boundingRect(inside.astype(np.uint8))
    height, width = inside.shape
    return (slice(max(0, y - margin), min(height, y + h + margin)),
            slice(max(0, x - margin), min(width, x + w + margin)))


def _poisson_window(orig: np.ndarray, gen: np.ndarray, inside: np.ndarray) -> np.ndarray:
    pad = 2  # seamlessClone misbehaves when the mask touches the border: work on a reflected frame
    framed_orig, framed_gen = (cv2.copyMakeBorder(a, pad, pad, pad, pad, cv2.BORDER_REFLECT) for a in (orig, gen))
    framed_mask = np.pad(inside.astype(np.uint8) * 255, pad)
    x, y, w, h = cv2.boundingRect(framed_mask)
    cloned = cv2.seamlessClone(framed_gen, framed_orig, framed_mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return cloned[pad:-pad, pad:-pad]


def paste_back(original: Image.Image, generated: Image.Image, mask: Image.Image, feather: float = 0.0,
               blend: str = "alpha") -> Image.Image:
    """Original pixels outside the mask; generated ones inside, Poisson-blended first if ``blend`` says so
    (gradient-domain, OpenCV seamlessClone), then mixed in with ``feather_alpha``.

    Only a window around the mask is computed (a 2048 px photo with a small object costs little); the window's
    margin covers the feather's erosion and blur, so the result equals a whole-image computation.
    """
    if generated.size != original.size:
        raise ValueError(f"generated {generated.size} and original {original.size} differ in size")
    if blend not in BLEND_CHOICES:
        raise ValueError(f"unknown blend {blend!r}; known: {', '.join(BLEND_CHOICES)}")
    inside = binary_mask(mask)
    orig = np.asarray(_rgb(original))
    out = orig.copy()
    if not inside.any():
        return Image.fromarray(out)
    window = _mask_window(inside, margin=4 * int(math.ceil(feather)) + 4)
    win_inside, win_orig = inside[window], orig[window]
    win_gen = np.asarray(_rgb(generated))[window]
    if blend == "poisson":
        win_gen = _poisson_window(win_orig, win_gen, win_inside)
    if feather <= 0:
        np.copyto(out[window], win_gen, where=win_inside[..., None])
        return Image.fromarray(out)
    alpha = feather_alpha(win_inside, feather)[..., None]
    mixed = np.rint(alpha * win_gen.astype(np.float32) + (1.0 - alpha) * win_orig.astype(np.float32))
    # Exactness outside the mask does not depend on float rounding: only alpha > 0 pixels are written.
    np.copyto(out[window], mixed.astype(np.uint8), where=alpha > 0)
    return Image.fromarray(out)


def finish(
    original: Image.Image, mask: Image.Image, generated: Image.Image, strategy: str, feather: float = 0.0,
    upscale_method: str = "lanczos", blend: str = "alpha",
) -> tuple[Image.Image, dict]:
    """Turn a working-size output into the sample's image at the original's size; returns it and what to record."""
    if strategy not in STRATEGY_CHOICES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGY_CHOICES)}")
    record: dict = {}
    if generated.size != original.size:
        record["resize"] = {"method": upscale_method, "from": list(generated.size), "to": list(original.size)}
    full = upscale(_rgb(generated), original.size, upscale_method)
    if strategy == "full_regeneration":
        return full, record
    record["feather"] = float(feather)
    record["blend"] = blend
    return paste_back(original, full, mask, feather, blend), record
