"""Versioned releases of InpaintBench: layout on disk, split assignment, dataset card, Hub publishing.

See docs/releases.md for what a version promises and which module keeps each promise.

- ``inputs``: read and check a generator output dir (manifest + shards).
- ``index``: every row's id checked against its content; ``index/samples.parquet`` (id -> pixels, split, configs).
- ``photos``: exact and near-duplicate photos grouped so that each group lands in one split.
- ``splits``: the split config (YAML) and the hash-based, version-stable split rule.
- ``layout``: write ``data/<config>/<split>-NNNNN-of-MMMMM.parquet`` + index + card + ``release.json``.
- ``staging``: partial folders, their clean-up after a kill, and the swap of a rebuilt release.
- ``audit``: the file-level shortcut audit (can file properties alone tell pristine from inpainted?).
- ``card``: README.md (YAML configs + dataset_info, tables, fields, plot, how to load, citation).
- ``build``: build a release folder, or reuse one staged from the same inputs and options (publish re-runs).
- ``versioning``: semantic versions against the published ones; ``hub_checks``: token, tag, published versions.
- ``publish``: push a release folder to a Hub dataset repo and tag it ``vX.Y.Z``, idempotently.
- ``batching``: ``fixed_size``, the transform that batches a release's mixed image sizes for a DataLoader.
"""
