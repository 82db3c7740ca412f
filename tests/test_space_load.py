"""The Space under load: concurrency limits as configured (seen in the real app's queue), big uploads downscaled
with bounded memory, and every kind of image decoded through the generator's decoder (16-bit, palette, alpha,
CMYK, animated), each against the old path that got it wrong."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from inpaintbench.space.app import build_app, launch
from inpaintbench.space.config import SpaceConfig
from inpaintbench.space.detect import DetectorRunner
from inpaintbench.space.uploads import decode_upload
from tests.helpers.ports import free_port
from tests.helpers.space_fixtures import write_generator_output


def old_decode(path) -> np.ndarray:
    """The Space's decode before it used the generator's decoder: the attack every kind test runs."""
    image = Image.open(path)
    image.seek(0)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def grey_photo(height: int = 96, width: int = 128) -> np.ndarray:
    """A mid-grey photo-like 8-bit image: smooth shading plus texture."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    return np.clip(110 + 30 * np.sin(x / 9.0) * np.cos(y / 7.0) + rng.normal(0, 6, (height, width)), 0, 255).astype(
        np.uint8)


# --- image kinds -----------------------------------------------------------------------------------------------
def test_a_16_bit_png_is_scaled_not_clipped_to_white(tmp_path):
    grey = grey_photo()
    path = tmp_path / "grey16.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)  # 16-bit: 0..65535
    assert Image.open(path).mode == "I;16"
    decoded = decode_upload(str(path), max_megapixels=1)
    assert np.array_equal(decoded.pixels[..., 0], grey) and "16-bit scaled" in "; ".join(decoded.notes)
    assert np.all(old_decode(path) == 255)  # the attack: the old path clipped everything to white

    # Through a real detector: the 16-bit upload scores exactly like its 8-bit twin; the old pixels do not.
    eight = tmp_path / "grey8.png"
    Image.fromarray(np.stack([grey] * 3, -1)).save(eight)
    runner = DetectorRunner()
    _, overlay16, score16, summary = runner.run(str(path), "noise")
    _, overlay8, score8, _ = runner.run(str(eight), "noise")
    assert score16 == pytest.approx(score8) and np.array_equal(np.asarray(overlay16), np.asarray(overlay8))
    assert "converted from PIL mode I;16 to 8-bit RGB (16-bit scaled by 255/65535)" in summary
    white = runner._detector("noise").predict(old_decode(path))
    assert float(white["score"]) != pytest.approx(score8)


def test_palette_and_alpha_are_composited_over_white_not_exposed(tmp_path):
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 0] = 255  # every pixel stores red...
    rgba[:, :25, 3] = 255  # ...but only the left half is opaque
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    decoded = decode_upload(str(path), max_megapixels=1)
    assert np.all(decoded.pixels[:, :25] == [255, 0, 0]) and np.all(decoded.pixels[:, 25:] == 255)
    assert "alpha composited over white" in "; ".join(decoded.notes)
    assert np.all(old_decode(path)[:, 25:] == [255, 0, 0])  # the attack: the hidden colour shows

    palette = Image.fromarray(np.repeat(np.arange(4, dtype=np.uint8), 10)[None].repeat(8, 0), "P")
    palette.putpalette([0, 0, 255, 0, 255, 0, 255, 0, 0, 9, 9, 9] + [0] * 756)
    palette.info["transparency"] = 3  # index 3 (dark grey) is transparent
    path = tmp_path / "palette.png"
    palette.save(path, transparency=3)
    decoded = decode_upload(str(path), max_megapixels=1)
    assert np.all(decoded.pixels[0, :10] == [0, 0, 255]) and np.all(decoded.pixels[0, 30:] == 255)
    assert "converted from PIL mode P" in "; ".join(decoded.notes)
    assert np.all(old_decode(path)[0, 30:] == 9)  # the attack: the transparent index's colour shows


def test_cmyk_jpeg_and_animations(tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(cmyk, quality=95)  # pure red in print colours
    decoded = decode_upload(str(cmyk), max_megapixels=1)
    red = decoded.pixels.reshape(-1, 3).mean(0)
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    assert "converted from PIL mode CMYK to 8-bit RGB" in "; ".join(decoded.notes)

    frames = [Image.new("RGB", (30, 20), colour) for colour in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    gif = tmp_path / "moving.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    webp = tmp_path / "moving.webp"
    frames[0].save(webp, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    for path in (gif, webp):
        decoded = decode_upload(str(path), max_megapixels=1)
        assert decoded.pixels.reshape(-1, 3).mean(0).argmax() == 0  # the red first frame
        assert "animated image (3 frames): only the first frame was analysed" in decoded.notes


def test_a_big_upload_is_downscaled_and_says_so(tmp_path):
    path = tmp_path / "wide.jpg"
    Image.fromarray(np.stack([grey_photo(1500, 3000)] * 3, -1)).save(path, quality=90)
    decoded = decode_upload(str(path), max_megapixels=40, max_side=1000)
    assert decoded.pixels.shape == (500, 1000, 3) and decoded.original_size == (3000, 1500)
    assert decoded.notes[0].startswith("downscaled from 3000×1500 to 1000×500 before detection")
    # EXIF orientation 6 (rotate 90): the note names the upright size
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = tmp_path / "turned.jpg"
    Image.open(path).save(turned, exif=exif, quality=90)
    decoded = decode_upload(str(turned), max_megapixels=40, max_side=1000)
    assert decoded.pixels.shape == (1000, 500, 3) and decoded.original_size == (1500, 3000)
    _, _, _, summary = DetectorRunner(max_side=1000).run(str(turned), "ela")
    assert "on a 500×1000 image" in summary and "downscaled from 1500×3000 to 500×1000" in summary


# VmHWM (this process's own peak), not ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of a
# big pytest process starts at its parent's peak and every delta read 0 in the full suite.
PEAK_MEMORY = """
import sys
from inpaintbench.space.uploads import decode_upload
def hwm_kb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
before = hwm_kb()
side = None if sys.argv[2] == "none" else int(sys.argv[2])
decoded = decode_upload(sys.argv[1], max_megapixels=40, max_side=side)
print(decoded.pixels.shape[1], (hwm_kb() - before) // 1024)
"""


@pytest.mark.slow
def test_a_big_16_bit_upload_is_decoded_in_bounded_memory(tmp_path):
    # 24 MP of 16-bit grey: 48 MB of pixels; converting them at full size costs 8 bytes a pixel several times over.
    path = tmp_path / "big16.png"
    y, x = np.mgrid[0:4000, 0:6000].astype(np.uint32)
    Image.fromarray(((x * 7 + y * 3) % 65536).astype(np.uint16)).save(path, compress_level=1)

    def peak(max_side):
        out = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(path), max_side], capture_output=True,
                             text=True, check=True).stdout.split()
        return int(out[0]), int(out[1])

    width, bounded = peak("2048")
    assert width == 2048 and bounded < 250, bounded  # MB over the interpreter's own: the 48 MB decode, then small
    width, full = peak("none")  # the attack: normalising at full size first
    assert width == 6000 and full > 2 * bounded, (full, bounded)


# --- concurrency in the real app -------------------------------------------------------------------------------
def _active_by_endpoint(demo, stop: threading.Event, seen: dict[str, int]) -> None:
    """Most events of each endpoint seen running at once in the app's queue (its own bookkeeping, sampled)."""
    while not stop.is_set():
        running: dict[str, int] = {}
        for job in list(demo._queue.active_jobs):
            for event in job or []:
                running[event.fn.api_name] = running.get(event.fn.api_name, 0) + 1
        for name, count in running.items():
            seen[name] = max(seen.get(name, 0), count)
        time.sleep(0.002)


def _serve_and_load(config: SpaceConfig, upload: str) -> dict[str, int]:
    demo = build_app(config)
    port = free_port()
    launch(demo, config, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    seen: dict[str, int] = {}
    stop = threading.Event()
    try:
        url = f"http://127.0.0.1:{port}/"
        clients = [Client(url, verbose=False, download_files=False) for _ in range(6)]
        sampler = threading.Thread(target=_active_by_endpoint, args=(demo, stop, seen))
        sampler.start()
        with ThreadPoolExecutor(12) as pool:
            detects = [pool.submit(c.predict, handle_file(upload), "ela", api_name="/detect") for c in clients[:3]]
            browses = [pool.submit(c.predict, "All", "All", "All", "All", 1 + k % 4, api_name="/browse")
                       for c in clients for k in range(2)]
            for future in detects + browses:
                future.result(timeout=120)
        limits = {q.concurrency_id: q.concurrency_limit for q in demo._queue.event_queue_per_concurrency_id.values()}
        seen["detect queue limit"] = limits["detect"]
        return seen
    finally:
        stop.set()
        demo.close()


@pytest.mark.slow
def test_detections_run_up_to_their_limit_and_cheap_events_alongside(tmp_path):
    root = tmp_path
    config = SpaceConfig(
        data=str(write_generator_output(root / "gen")), db_path=str(root / "answers.sqlite3"),
        cache_dir=str(root / "cache"), detect_concurrency=2, event_concurrency=8,
    )
    upload = root / "photo.png"  # big enough that a detection takes a while: a noise photo at the size cap
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1536, 2048, 3), dtype=np.uint8)).save(upload)

    seen = _serve_and_load(config, str(upload))
    assert seen["detect queue limit"] == 2
    assert seen["detect"] == 2  # three submitted, two ran at once, the third waited for a slot
    assert seen["browse"] >= 2  # browsing ran concurrently, not one at a time
    # The attack: Gradio's defaults (one at a time) for both kinds of event.
    attack = _serve_and_load(replace(config, detect_concurrency=1, event_concurrency=1,
                                     db_path=str(root / "attack.sqlite3")), str(upload))
    assert attack["detect"] == 1 and attack["browse"] == 1
