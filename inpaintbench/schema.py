"""The one schema of a sample, as ``datasets.Features``.

Everything that reads or writes shards (generator, release/publish, loading builder, harness, Space) imports
``FEATURES`` from here, so the columns cannot drift apart. Adding a column is fine; renaming one breaks
published versions, so don't.
"""

from __future__ import annotations

import datasets

LABEL_NAMES = ["pristine", "inpainted"]
PRISTINE, INPAINTED = 0, 1

# What was done to the selected object.
ACTIONS = ("none", "replace", "remove")
# How the backend's output relates to the original outside the mask. "full_regeneration": every pixel went
# through the model (e.g. VAE re-encoding); "paste_back": original pixels outside the mask, optionally
# feathered; "none": pristine sample. Detectors behave very differently on the two, so it is always recorded.
STRATEGIES = ("none", "full_regeneration", "paste_back")

FEATURES = datasets.Features(
    {
        "sample_id": datasets.Value("string"),  # stable across versions: see inpaintbench.ids
        "label": datasets.ClassLabel(names=LABEL_NAMES),
        "image": datasets.Image(),  # what a detector sees: inpainted, or the untouched original
        "mask": datasets.Image(),  # mode "L", 255 = inpainted pixels; all zero for pristine samples
        "original": datasets.Image(),  # the source photo (after orientation/size normalisation)
        "source": datasets.Value("string"),  # e.g. "embedded", "coco"
        "source_image_id": datasets.Value("string"),
        "object_id": datasets.Value("string"),  # annotation id of the selected object ("" for pristine)
        "category": datasets.Value("string"),  # category of the selected object
        "action": datasets.Value("string"),  # one of ACTIONS
        "replacement": datasets.Value("string"),  # replacement category ("" for remove / none)
        "replacement_score": datasets.Value("float32"),  # scene-fit score of the replacement (NaN if none)
        "prompt": datasets.Value("string"),
        "backend": datasets.Value("string"),  # registry name, "none" for pristine
        "backend_params": datasets.Value("string"),  # JSON: model id, steps, guidance, scheduler, ...
        "strategy": datasets.Value("string"),  # one of STRATEGIES
        "seed": datasets.Value("int64"),
        "mask_variant": datasets.Value("string"),  # "object", "bbox", "convex_hull"
        "mask_dilation_pct": datasets.Value("float32"),  # dilation as % of the object's area
        "mask_area_fraction": datasets.Value("float32"),  # final mask pixels / image pixels
        "width": datasets.Value("int32"),
        "height": datasets.Value("int32"),
        "extra": datasets.Value("string"),  # JSON for anything else worth keeping (OOM fallback size, ...)
        # The edit this sample comes from: two samples share it when one model call gave both strategies (backend
        # param ``strategy: both``); "" for pristine. See inpaintbench.ids.make_edit_id.
        "edit_id": datasets.Value("string"),
        # mode "L", 255 where |image - original| > CHANGED_PIXEL_THRESHOLD in any channel: where pixels really
        # changed, beside ``mask`` (where they were asked to). A full regeneration changes pixels far outside it.
        "changed_mask": datasets.Image(),
        "recipe": datasets.Value("string"),  # JSON: how to make this sample again (builder.recipes)
    }
)

# A pixel counts as changed when some channel moved by more than this (of 255): above the +-1-2 levels of
# rounding in a VAE round trip of flat areas, below any visible edit.
CHANGED_PIXEL_THRESHOLD = 8

COLUMNS = list(FEATURES)

# Deceptiveness columns (builder.deceptiveness), joined to a release's rows when its generator output carries
# assessments (builder.release.assessments); the ``deceiving`` config then exists too.
ASSESSMENT_FEATURES = datasets.Features(
    {
        "deceptiveness": datasets.Value("float32"),
        "deceptiveness_ci_low": datasets.Value("float32"),
        "deceptiveness_ci_high": datasets.Value("float32"),
        "ugda_outcome": datasets.Value("string"),
    }
)
ASSESSMENT_COLUMNS = list(ASSESSMENT_FEATURES)


def release_features(with_assessment: bool) -> datasets.Features:
    """The release's features: ``FEATURES``, plus ``ASSESSMENT_FEATURES`` when the release carries assessments."""
    if not with_assessment:
        return FEATURES
    return datasets.Features({**FEATURES, **ASSESSMENT_FEATURES})
