"""Several processes through PyTorch's own engine: ``torchrun --nproc_per_node=K -m -- synthcl
pretrain ...`` (the ``--`` stops torchrun from reading ``--n`` as one of its own options).

The process group is set up from torchrun's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``): gloo on CPU, NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``). The
global batch is split in rank order; keys are gathered over processes before they enter the
queue; shuffle-BN permutes the key images across processes (:func:`shuffled_keys`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from synthcl.errors import SynthclError
from synthcl.utils.devices import resolve_device


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes."""

    rank: int
    world: int
    device: torch.device
    owns_group: bool = False           # we created the process group (and destroy it)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, tensor: torch.Tensor) -> torch.Tensor:
        """This rank's equal, contiguous share of a global-batch tensor (dim 0)."""
        size = tensor.shape[0] // self.world
        return tensor[self.rank * size:(self.rank + 1) * size]

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate ``tensor`` from every rank in rank order (no gradient)."""
        if self.world == 1:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """Average of a scalar tensor over ranks."""
        if self.world == 1:
            return value
        value = value.detach().clone()
        dist.all_reduce(value)
        return value / self.world

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch, or the only process."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device_name: str) -> Processes:
    """One process, or this process's rank of a torchrun launch (initialising the group)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Processes(0, 1, resolve_device(device_name))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name)
    if device.type == "cuda":
        if torch.cuda.device_count() <= local:
            raise SynthclError(f"process {rank} wants cuda:{local} but only "
                               f"{torch.cuda.device_count()} GPU(s) are visible; use "
                               f"--nproc_per_node <= {torch.cuda.device_count()}")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), device, owns)


def shuffled_keys(encode: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                  permutation: torch.Tensor, procs: Processes) -> torch.Tensor:
    """Shuffle-BN: keys of this rank's ``images``, computed on a global batch permuted by
    ``permutation`` (the same on every rank) so that BN groups mix instances differently from
    the queries', then put back in order."""
    everything = procs.gather(images)
    perm = permutation.to(images.device)
    keys = procs.gather(encode(procs.shard(everything[perm])))
    return procs.shard(keys[torch.argsort(perm)])
