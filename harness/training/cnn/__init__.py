"""A convolutional localisation baseline: ImageNet EfficientNet-Lite0 encoder + a small U-Net decoder (CPU).

One job per module:

- ``model``: the network (encoder taps, decoder), the packaged ImageNet weights, input normalisation;
- ``crops``: the training set as seeded random crops (flips, aligned masks, pristine crops mixed in);
- ``loss``: BCE + Dice on the per-pixel logits;
- ``inference``: full-image prediction (reflect-pad to a multiple of 32) and the image score pooling;
- ``checkpoint``: the saved weights (``.pt``) + JSON sidecar, and loading them with errors naming the file;
- ``validation``: the validation split of a release or a generator run, scored with the harness's metric code;
- ``batchnorm``: BN running statistics re-estimated with an epoch's final weights (precise BN);
- ``trainer``: the seeded training loop (tqdm), validation each epoch, the best epoch kept.

The detector that loads a checkpoint is ``inpaintbench.harness.detectors.cnn`` (registered as ``cnn``); it is
trained by ``inpaintbench train-detector --kind cnn``.
"""
