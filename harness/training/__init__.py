"""A trained pixel-level localisation baseline: hand-made forensic features per pixel + a scikit-learn model.

- ``features``: per-pixel feature stack of an RGB image (noise residuals, ELA, JPEG grid, colour, 3 scales);
- ``sampling``: which pixels of which images go into the training set (balanced, pristine share, seeded);
- ``model``: the saved model file + its JSON sidecar (features version, data identity, seed, backends);
- ``trainer``: reads a train split through the harness's data layer and fits the model.

The detector that loads a saved model is ``inpaintbench.harness.detectors.trained`` (registered as ``trained``).
"""
