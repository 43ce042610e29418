"""Backbones shared by pre-training and fine-tuning."""

from synthcl.models.resnet import (
    ARCHS,
    Backbone,
    backbone_state_dict,
    build_backbone,
    infer_architecture,
    normalize,
    to_input,
    torchvision_resnet,
)

__all__ = ["ARCHS", "Backbone", "backbone_state_dict", "build_backbone", "infer_architecture",
           "normalize", "to_input", "torchvision_resnet"]
