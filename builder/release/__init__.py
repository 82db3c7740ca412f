"""Versioned releases of InpaintBench: layout on disk, split assignment, dataset card, Hub publishing.

- ``inputs``: read and check a generator output dir (manifest + shards).
- ``splits``: the split config (YAML) and the hash-based, version-stable split rule.
- ``layout``: write ``data/<config>/<split>-NNNNN-of-MMMMM.parquet`` + card + ``release.json``.
- ``card``: README.md (YAML configs, tables, plot, how to load, citation) from the release summary.
- ``build``: build a release folder, or reuse one staged from the same inputs (publish re-runs).
- ``publish``: push a release folder to a Hub dataset repo and tag it ``vX.Y.Z``, idempotently.
"""
