"""Catalogue of real photos that ship inside installed Python packages, read at run time (no photo is committed).

Why files inside wheels: this machine (and CI) reach only package registries, so the embedded default must come
from packages a plain ``pip install`` brings. Only photos that really sit in the wheel are listed; scikit-image
images fetched on demand by pooch fail offline and are left out.

Photos are located with ``importlib.util.find_spec`` instead of the packages' own helper functions
(``skimage.data.astronaut()``, ``gradio.media.get_image()``...): that does not import the package, so reading a
photo never pays for importing gradio or scikit-learn, and every photo goes through the same decoding path.
The test suite checks every recorded path, so a package that moves its files is caught at once.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps


class PhotoUnavailableError(LookupError):
    """A catalogued photo cannot be read: unknown name, package not installed, or file missing from it."""


@dataclass(frozen=True)
class CatalogPhoto:
    name: str  # stable id, "<package>/<photo>"; also the COCO ``file_name`` in annotations.json
    package: str  # import name of the package that ships the file
    distribution: str  # what to ``pip install`` to get it
    relative_path: str  # path of the file inside the package directory
    license: str  # license of the photo itself (not of the package)
    credit: str  # photographer / origin, as the package documents it
    description: str


_SKIMAGE_SOURCE = "scikit-image data (skimage/data)"
_GRADIO_LICENSE = "unstated: bundled with gradio (Apache-2.0 package); gradio does not state the photo's origin"

_PHOTOS = [
    CatalogPhoto(
        "skimage/astronaut", "skimage", "scikit-image", "data/astronaut.png",
        "public domain", "NASA Great Images; via " + _SKIMAGE_SOURCE,
        "astronaut Eileen Collins in front of a flag and a shuttle model",
    ),
    CatalogPhoto(
        "skimage/chelsea", "skimage", "scikit-image", "data/chelsea.png",
        "CC0", "Stefan van der Walt; via " + _SKIMAGE_SOURCE,
        "Chelsea the cat",
    ),
    CatalogPhoto(
        "skimage/coffee", "skimage", "scikit-image", "data/coffee.png",
        "CC0", "Rachel Michetti, courtesy of Pikolo Espresso Bar; via " + _SKIMAGE_SOURCE,
        "cup of coffee on a saucer with a spoon, on a wooden table",
    ),
    CatalogPhoto(
        "skimage/rocket", "skimage", "scikit-image", "data/rocket.jpg",
        "public domain", "SpaceX (launch of DSCOVR on Falcon 9); via " + _SKIMAGE_SOURCE,
        "rocket lifting off from its launch tower",
    ),
    CatalogPhoto(
        "skimage/stereo_motorcycle", "skimage", "scikit-image", "data/motorcycle_left.png",
        "research use, cite the source",
        "Middlebury 2014 stereo benchmark (Scharstein et al., GCPR 2014), left view; via " + _SKIMAGE_SOURCE,
        "motorcycle in a studio",
    ),
    CatalogPhoto(
        "skimage/camera", "skimage", "scikit-image", "data/camera.png",
        "CC0", "Lav Varshney; via " + _SKIMAGE_SOURCE,
        "grayscale: a man filming with a camera on a tripod",
    ),
    CatalogPhoto(
        "skimage/coins", "skimage", "scikit-image", "data/coins.png",
        "no known copyright restrictions", "Brooklyn Museum Collection; via " + _SKIMAGE_SOURCE,
        "grayscale: Greek coins from Pompeii on a grey background",
    ),
    CatalogPhoto(
        "skimage/clock", "skimage", "scikit-image", "data/clock_motion.png",
        "public domain", "Stefan van der Walt; via " + _SKIMAGE_SOURCE,
        "grayscale: motion-blurred wall clock",
    ),
    CatalogPhoto(
        "skimage/hubble_deep_field", "skimage", "scikit-image", "data/hubble_deep_field.jpg",
        "public domain", "NASA / HubbleSite; via " + _SKIMAGE_SOURCE,
        "Hubble eXtreme Deep Field (no annotatable objects; a pristine-only scene)",
    ),
    CatalogPhoto(
        "sklearn/china", "sklearn", "scikit-learn", "datasets/images/china.jpg",
        "CC BY 2.0", "danielbuechele on Flickr; via scikit-learn load_sample_image",
        "Chinese temple among trees",
    ),
    CatalogPhoto(
        "sklearn/flower", "sklearn", "scikit-learn", "datasets/images/flower.jpg",
        "CC BY 2.0", "vultilion on Flickr; via scikit-learn load_sample_image",
        "close-up of a flower",
    ),
    CatalogPhoto(
        "matplotlib/grace_hopper", "matplotlib", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
        "public domain", "US Navy official portrait of Grace Hopper; via matplotlib sample data",
        "portrait of Rear Admiral Grace Hopper",
    ),
    CatalogPhoto(
        "gradio/cheetah", "gradio", "gradio", "media_assets/images/cheetah.jpg",
        _GRADIO_LICENSE, "gradio media_assets",
        "cheetah running, motion-blurred background",
    ),
    CatalogPhoto(
        "gradio/cheetah_portrait", "gradio", "gradio", "media_assets/images/cheetah1.jpg",
        _GRADIO_LICENSE, "gradio media_assets",
        "head and shoulders of a cheetah",
    ),
    CatalogPhoto(
        "gradio/lion", "gradio", "gradio", "media_assets/images/lion.jpg",
        _GRADIO_LICENSE, "gradio media_assets",
        "lion lying on a rock, a lioness behind",
    ),
    CatalogPhoto(
        "gradio/tower", "gradio", "gradio", "media_assets/images/tower.jpg",
        _GRADIO_LICENSE, "gradio media_assets",
        "Eiffel Tower lit at dusk, bare branches",
    ),
]

CATALOG: dict[str, CatalogPhoto] = {photo.name: photo for photo in _PHOTOS}


def list_photos() -> list[str]:
    """Every catalogued name, in catalogue order (installed or not)."""
    return list(CATALOG)


def _entry(name: str) -> CatalogPhoto:
    try:
        return CATALOG[name]
    except KeyError:
        raise PhotoUnavailableError(
            f"unknown embedded photo {name!r}; known photos: {', '.join(CATALOG)}"
        ) from None


def photo_path(name: str) -> Path:
    """Where the photo's file lies in the installed package; raises ``PhotoUnavailableError`` naming what to install."""
    photo = _entry(name)
    spec = importlib.util.find_spec(photo.package)
    if spec is None or not spec.submodule_search_locations:
        raise PhotoUnavailableError(
            f"embedded photo {name!r} ships with the package {photo.distribution!r}, which is not installed: "
            f"pip install {photo.distribution}"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / photo.relative_path
        if candidate.is_file():
            return candidate
    try:
        version = importlib.metadata.version(photo.distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown version"
    raise PhotoUnavailableError(
        f"embedded photo {name!r}: file {photo.relative_path!r} is missing from the installed "
        f"{photo.distribution} ({version}); reinstall it (pip install --force-reinstall {photo.distribution})"
    )


def load_photo(name: str) -> Image.Image:
    """The photo as an RGB PIL image, EXIF orientation applied (grayscale photos are expanded to RGB)."""
    path = photo_path(name)
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            return image.convert("RGB")
    except OSError as error:
        raise PhotoUnavailableError(f"embedded photo {name!r}: cannot decode {path}: {error}") from error
