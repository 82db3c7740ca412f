"""Precise BatchNorm: re-estimate every BN layer's running statistics with the final weights of an epoch.

Why: BN's running mean/variance are an exponential average over the epoch's steps, each computed with the
weights of *that* step. Fine-tuning a few hundred steps at a learning rate that moves the weights (and from
random init, moves them a lot) leaves the averages describing earlier networks: eval-mode maps then disagree
with train-mode ones (measured on the synthetic test: train-mode maps separated the forgery, eval-mode maps
were flat). Re-estimating them on the epoch's crops with the weights frozen ("precise BN", Wu & Johnson,
"Rethinking 'Batch' in BatchNorm", 2021) costs one forward pass over the epoch and fixes it.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def recalibrate_batchnorm(net: nn.Module, batches) -> None:
    """Reset and recompute running statistics as the plain mean over ``batches`` (iterable of (x, y))."""
    layers = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: every batch weighs the same
    was_training = net.training
    net.train()
    for x, _ in batches:
        net(x)
    for m, momentum in zip(layers, momenta, strict=True):
        m.momentum = momentum
    net.train(was_training)
