"""synthcl: contrastive pre-training on synthetic images generated from a few real images."""

__version__ = "0.1.0"
