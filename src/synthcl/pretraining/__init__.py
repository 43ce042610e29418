"""Contrastive pre-training (MoCo v2) on synthetic sets and every baseline's instances.

``pretrain`` and ``PretrainResult`` load on first use, so that importing the settings
(``PretrainConfig``) stays free of torch (the CLI builds its parser from them).
"""

from synthcl.pretraining.config import PretrainConfig

__all__ = ["PretrainConfig", "PretrainResult", "pretrain"]


def __getattr__(name: str):
    if name in ("pretrain", "PretrainResult"):
        from synthcl.pretraining import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'synthcl.pretraining' has no attribute {name!r}")
