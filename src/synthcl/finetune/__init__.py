"""Fine-tuning on N labelled images with the paper's protocol, and evaluation of the result.

``finetune`` and ``finetune_seed`` load on first use, so that importing the settings
(``FinetuneConfig``) stays free of torch (the CLI builds its parser from them).
"""

from synthcl.finetune.config import FinetuneConfig

__all__ = ["FinetuneConfig", "finetune", "finetune_seed"]


def __getattr__(name: str):
    if name in ("finetune", "finetune_seed"):
        from synthcl.finetune import protocol

        return getattr(protocol, name)
    raise AttributeError(f"module 'synthcl.finetune' has no attribute {name!r}")
