"""Fine-tuning on N labelled images with the paper's protocol, and evaluation of the result."""

from synthcl.finetune.config import FinetuneConfig
from synthcl.finetune.protocol import finetune, finetune_seed

__all__ = ["FinetuneConfig", "finetune", "finetune_seed"]
