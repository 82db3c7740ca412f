"""The photos the inpainter trains on and the ones held out to measure it: Debian's ``opencv-doc`` sample images.

Why these: they install offline (``apt-get install opencv-doc``), are real photographs of varied scenes (aerial
views, buildings, streets, fruit, animals, plants, shop signs), and are none of the benchmark's photos. The list
is hand-picked from ``/usr/share/doc/opencv-doc/examples`` (OpenCV 4.6 in Debian 13): drawings, renders, logos,
synthetic shapes, charts, calibration chessboards, grayscale frames, a painting (starry_night) and an anime
portrait are left out, since the network should learn how photos continue, not how vector art does.

Never a benchmark photo: a network that saw a photo can restore the object removed from it, and the fill would
then be a copy, not a forgery. ``check_not_benchmark`` compares every photo with every photo of the embedded
catalogue by decoded-pixel sha256 and by 64-bit pHash within ``PHASH_MAX_DISTANCE`` bits (the release's own
near-duplicate rule), and refuses a match. COCO and OpenImages photos are a user's download: none of these files
comes from either, by provenance (OpenCV ships them in its own repository).
"""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

OPENCV_DOC_EXAMPLES = Path("/usr/share/doc/opencv-doc/examples")

# Stereo pairs and view pairs (aloeL/aloeR, left/right, leuvenA/B, rubberwhale1/2, graf1/3) keep one view only, so
# no scene is counted twice and none sits on both sides of the train/held-out line.
TRAIN_PHOTOS = (
    "data/aero1.jpg", "data/aero3.jpg", "data/aloeL.jpg", "data/apple.jpg", "data/baboon.jpg", "data/board.jpg",
    "data/butterfly.jpg", "data/chicky_512.png", "data/ela_original.jpg", "data/graf1.png", "data/home.jpg",
    "data/left.jpg", "data/leuvenA.jpg", "data/orange.jpg", "data/pca_test1.jpg", "data/rubberwhale1.png",
    "data/stuff.jpg", "alphamat/input_images/plant.jpg", "hfs/data/000.jpg", "hfs/data/001.jpg",
    "text/scenetext01.jpg", "text/scenetext02.jpg", "text/scenetext03.jpg", "text/scenetext05.jpg",
    "text/scenetext06.jpg", "text/scenetext_segmented_word01.jpg", "text/scenetext_segmented_word02.jpg",
    "text/scenetext_segmented_word03.jpg", "text/scenetext_segmented_word04.jpg",
    "text/scenetext_segmented_word05.jpg", "dnn_superres/butterfly.png", "reg/home.png",
)
# Never trained on: the held-out half of the measurement (benchmarks/learned_inpainter.py). One of each kind of
# scene the training set has (animal, fruit, building, landscape, street, sport).
HELD_OUT_PHOTOS = (
    "data/squirrel_cls.jpg", "data/fruits.jpg", "data/building.jpg", "hfs/data/002.jpg", "text/scenetext04.jpg",
    "data/messi5.jpg", "data/licenseplate_motion.jpg",
)
LONG_SIDE = 512  # the generator's default max_image_side: train at the scale the backend will see


class TrainingPhotoError(RuntimeError):
    """A training photo is missing, unreadable, or is (a near copy of) a benchmark photo."""


@dataclass(frozen=True)
class Photo:
    relative_path: str
    file_sha256: str  # of the file as installed (the .gz when Debian compressed it)
    pixels_sha256: str  # of the decoded RGB pixels, before any resizing
    phash: str  # 64-bit pHash, hex
    image: Image.Image  # RGB, long side at most LONG_SIDE

    def record(self) -> dict:
        return {"path": self.relative_path, "file_sha256": self.file_sha256, "pixels_sha256": self.pixels_sha256,
                "phash": self.phash, "size": list(self.image.size)}


def _locate(root: Path, relative: str) -> Path:
    for candidate in (root / relative, root / (relative + ".gz")):
        if candidate.is_file():
            return candidate
    raise TrainingPhotoError(
        f"{root / relative}: training photo missing; install Debian's opencv-doc (apt-get install -y opencv-doc), "
        f"or pass the folder that holds its examples with --photos-root")


def load_photo(root: Path, relative: str) -> Photo:
    from ..release.photos import fingerprint

    path = _locate(root, relative)
    data = path.read_bytes()
    raw = gzip.decompress(data) if path.suffix == ".gz" else data
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except OSError as error:
        raise TrainingPhotoError(f"{path}: cannot decode the photo: {error}") from error
    mark = fingerprint(image)
    if max(image.size) > LONG_SIDE:
        image = ImageOps.contain(image, (LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    return Photo(relative, hashlib.sha256(data).hexdigest(), mark.pixels, f"{mark.phash:016x}", image)


def benchmark_fingerprints() -> dict[str, tuple[str, int]]:
    """Every installed embedded-catalogue photo: name -> (pixels sha256, pHash). A photo whose package is not
    installed cannot be checked, and is then reported by ``check_not_benchmark``'s caller via ``unchecked``."""
    from ..embedded.catalog import PhotoUnavailableError, list_photos
    from ..embedded.catalog import load_photo as load_embedded
    from ..release.photos import fingerprint

    marks = {}
    for name in list_photos():
        try:
            mark = fingerprint(load_embedded(name))
        except PhotoUnavailableError:
            continue
        marks[name] = (mark.pixels, mark.phash)
    return marks


def check_not_benchmark(photos: list[Photo], benchmark: dict[str, tuple[str, int]]) -> dict:
    """Raise ``TrainingPhotoError`` when a photo equals or nearly equals a benchmark photo; else the record of the
    check (method, what was compared, the closest pair) for the sidecar."""
    from ..release.photos import PHASH_MAX_DISTANCE

    closest = None
    for photo in photos:
        own = int(photo.phash, 16)
        for name, (pixels, phash) in benchmark.items():
            distance = bin(own ^ phash).count("1")
            if pixels == photo.pixels_sha256 or distance <= PHASH_MAX_DISTANCE:
                raise TrainingPhotoError(
                    f"{photo.relative_path}: is the benchmark photo {name!r} or a near copy of it (pHash distance "
                    f"{distance} <= {PHASH_MAX_DISTANCE}, or equal pixels): never train on a benchmark photo")
            if closest is None or distance < closest[0]:
                closest = (distance, photo.relative_path, name)
    return {
        "method": f"decoded-pixel sha256 equality or 64-bit pHash within {PHASH_MAX_DISTANCE} bits",
        "benchmark_photos_compared": sorted(benchmark),
        "closest_pair": None if closest is None else
        {"phash_distance": closest[0], "photo": closest[1], "benchmark_photo": closest[2]},
    }


def load_set(root: Path, names: tuple[str, ...]) -> list[Photo]:
    return [load_photo(root, name) for name in names]


def as_array(photo: Photo) -> np.ndarray:
    return np.asarray(photo.image, dtype=np.uint8)
