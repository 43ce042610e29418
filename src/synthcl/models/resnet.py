"""ResNet-18/50 backbones in torchvision's layout, at any base width, with an optional small stem.

The parameter names are exactly torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1`` ...), so a
width-64 backbone's state dict loads into ``torchvision.models.resnet18/50`` with only ``fc.*``
missing. The small-image stem (3x3 convolution at stride 1, no max-pool; for inputs under 64
pixels) changes ``conv1``'s shape: build the torchvision model with :func:`torchvision_resnet`
(or replace ``conv1``/``maxpool`` the same way) before loading such weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from synthcl.errors import SynthclError
from synthcl.models.small_input_conv import use_small_input_convs

ARCHS = {"resnet18": (BasicBlock, (2, 2, 2, 2)), "resnet50": (Bottleneck, (3, 4, 6, 3))}
SMALL_STEM_BELOW = 64
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def wants_small_stem(height: int, width: int) -> bool:
    return min(height, width) < SMALL_STEM_BELOW


class Backbone(ResNet):
    """torchvision's ResNet with widths ``w, 2w, 4w, 8w`` and ``fc`` = identity (features out)."""

    def __init__(self, arch: str = "resnet18", width: int = 64, small_stem: bool = False):
        if arch not in ARCHS:
            raise SynthclError(f"--arch {arch}: unknown; choose one of {', '.join(ARCHS)}")
        if width < 4:
            raise SynthclError(f"width {width} is too small; use 16, 32 or 64 (torchvision's)")
        block, layers = ARCHS[arch]
        nn.Module.__init__(self)
        self.arch, self.width, self.small_stem = arch, width, small_stem
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        if small_stem:
            self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity()
        self.feature_dim = width * 8 * block.expansion
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        use_small_input_convs(self)

    def describe(self) -> dict:
        return {"arch": self.arch, "width": self.width, "small_stem": self.small_stem}


def build_backbone(arch: str = "resnet18", width: int = 64, small_stem: bool | None = None,
                   image_hw: tuple[int, int] | None = None) -> Backbone:
    """A backbone; ``small_stem=None`` chooses it when the image side is under 64 pixels."""
    if small_stem is None:
        small_stem = image_hw is not None and wants_small_stem(*image_hw)
    return Backbone(arch, width, small_stem)


def backbone_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The backbone's weights alone, in torchvision's key layout, on the CPU (no ``fc.*``)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if not k.startswith("fc.")}


def infer_architecture(state: dict[str, torch.Tensor]) -> dict:
    """arch / width / small_stem of a backbone state dict in torchvision's layout."""
    if "conv1.weight" not in state:
        raise SynthclError("the weights have no 'conv1.weight': not a ResNet backbone in "
                           "torchvision's layout")
    conv1 = state["conv1.weight"]
    arch = "resnet50" if "layer1.0.conv3.weight" in state else "resnet18"
    return {"arch": arch, "width": int(conv1.shape[0]), "small_stem": conv1.shape[-1] == 3}


def torchvision_resnet(arch: str = "resnet18", small_stem: bool = False,
                       num_classes: int = 1000) -> ResNet:
    """A plain ``torchvision.models.resnet18/50`` (width 64), with the small stem if asked."""
    import torchvision

    model = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    if small_stem:
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1], (B, C, H, W) with C in {1, 3} -> network input (B, 3, H, W).

    Grayscale is replicated to three channels; channels are standardised with ImageNet's mean and
    standard deviation (the convention of torchvision's weights, used for every initialisation).
    """
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    mean = torch.tensor(IMAGENET_MEAN, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images - mean) / std


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> normalised float network input (B, 3, H, W)."""
    return normalize(images.float().div_(255))
