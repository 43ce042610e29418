import pytest
import torch
import torchvision

from synthcl.errors import SynthclError
from synthcl.models import (
    backbone_state_dict,
    build_backbone,
    infer_architecture,
    to_input,
    torchvision_resnet,
)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_width64_backbone_loads_into_torchvision_with_only_fc_missing(arch):
    state = backbone_state_dict(build_backbone(arch))
    result = getattr(torchvision.models, arch)().load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == ["fc.bias", "fc.weight"]
    assert result.unexpected_keys == []


def test_small_stem_backbone_loads_into_torchvision_with_the_same_stem():
    state = backbone_state_dict(build_backbone("resnet18", image_hw=(28, 28)))
    result = torchvision_resnet("resnet18", small_stem=True).load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == ["fc.bias", "fc.weight"]


def test_stem_is_chosen_by_image_size_and_keeps_resolution():
    small = build_backbone("resnet18", width=16, image_hw=(32, 32))
    large = build_backbone("resnet18", width=16, image_hw=(96, 96))
    assert small.small_stem and not large.small_stem
    assert small(torch.randn(2, 3, 32, 32)).shape == (2, 128)
    assert small.layer4(small.layer3(small.layer2(small.layer1(small.conv1(
        torch.randn(1, 3, 32, 32)))))).shape[-1] == 4


@pytest.mark.parametrize("arch,width,stem", [("resnet18", 16, True), ("resnet50", 32, False)])
def test_infer_architecture_round_trips(arch, width, stem):
    model = build_backbone(arch, width=width, small_stem=stem)
    assert infer_architecture(model.state_dict()) == {"arch": arch, "width": width,
                                                      "small_stem": stem}
    assert model.feature_dim == width * 8 * (4 if arch == "resnet50" else 1)


def test_unknown_arch_is_a_user_error():
    with pytest.raises(SynthclError, match="resnet18"):
        build_backbone("vgg16")


def test_to_input_replicates_grayscale_and_standardises():
    gray = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    x = to_input(gray)
    assert x.shape == (2, 3, 4, 4)
    assert torch.allclose(x[:, 0], torch.full((2, 4, 4), (1 - 0.485) / 0.229))
