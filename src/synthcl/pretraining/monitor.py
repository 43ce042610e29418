"""The online monitor: is pre-training learning anything?

Two probes of the frozen network in eval mode, run every few steps and logged next to the same
probes of the randomly initialised network (measured once, before the first step):

- ``knn_acc``: weighted kNN (cosine similarity, k neighbours, votes ``exp(sim / 0.07)``, as in
  InstDisc and solo-learn) on backbone features, the train half of the N labelled images against
  their validation half. The test split is never touched. Features are centred on the train
  half's mean before L2 normalisation (SimpleShot's CL2N): a random network's features share one
  dominant direction, which without centring squeezes all similarities near 1, turns the vote
  into a near-uniform one and under-rates the random baseline. With N = 40 the validation half
  has 20 images, so one image moves the accuracy by 5 points: read trends, not single probes.
- ``instance_acc``: top-1 instance discrimination on held-out images: the query encoder's
  projection of one f_CL view must find the key encoder's projection of another view of the
  same image among the keys of all held-out images (chance = 1 / their number). Early in a run
  it can fall below the random network's: random features key on colour and intensity, which
  f_CL's jitter teaches the network to ignore before it learns other cues (measured: PCam 32 px,
  ``cl-all``, step 100 of 300: 0.016 against 0.039; PneumoniaMNIST 16 px, ``ours``, 300 steps:
  0.023 against 0.031, with 32 fresh copies of each source among the held-out images).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synthcl.models import normalize, to_input
from synthcl.pretraining.augment import Augment
from synthcl.utils.seeding import make_generator

KNN_TEMPERATURE = 0.07
CHUNK = 256


@torch.no_grad()
def embed(net: nn.Module, images: torch.Tensor, device: torch.device,
          channels_last: bool = False, normalized: bool = True) -> torch.Tensor:
    """Float32 outputs of ``net`` (eval mode; L2-normalised unless ``normalized`` is False) for
    uint8 or float [0, 1] images."""
    was_training = net.training
    net.eval()
    out = []
    for chunk in images.split(CHUNK):
        chunk = chunk.to(device)
        x = to_input(chunk) if chunk.dtype == torch.uint8 else normalize(chunk)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = net(x).float()
        out.append(F.normalize(y, dim=1) if normalized else y)
    net.train(was_training)
    return torch.cat(out)


def knn_votes(train: torch.Tensor, train_labels: torch.Tensor, queries: torch.Tensor, k: int,
              num_classes: int) -> torch.Tensor:
    """(n, classes) similarity-weighted votes of the ``k`` nearest train features, on features
    centred on the train mean and L2-normalised."""
    mean = train.mean(dim=0, keepdim=True)
    train, queries = F.normalize(train - mean, dim=1), F.normalize(queries - mean, dim=1)
    sim, idx = (queries @ train.T).topk(min(k, len(train)), dim=1)
    votes = torch.zeros(len(queries), num_classes, device=queries.device)
    votes.scatter_add_(1, train_labels.to(queries.device)[idx], torch.exp(sim / KNN_TEMPERATURE))
    return votes


def knn_accuracy(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 20, num_classes: int | None = None) -> float:
    """Accuracy of the kNN vote (:func:`knn_votes`) on ``test``."""
    num_classes = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    votes = knn_votes(train, train_labels, test, k, num_classes)
    return float((votes.argmax(1) == test_labels.to(test.device)).float().mean())


@torch.no_grad()
def instance_accuracy(query_net: nn.Module, key_net: nn.Module, images: torch.Tensor,
                      augment: Augment, seed: int, device: torch.device,
                      channels_last: bool = False) -> float:
    """Top-1 of matching view 1 (query net) to view 2 (key net) of the same image."""
    _, _, h, w = images.shape
    views = []
    for view in range(2):
        g = make_generator(seed, "instance-probe", view)
        views.append(augment.apply(images.to(device), augment.draw(len(images), h, w, g)))
    q = embed(query_net, views[0], device, channels_last)
    k = embed(key_net, views[1], device, channels_last)
    hits = (q @ k.T).argmax(dim=1) == torch.arange(len(images), device=device)
    return float(hits.float().mean())


class Monitor:
    """Probes a MoCo model (see the module docstring) on fixed images."""

    def __init__(self, train_images: torch.Tensor, train_labels: torch.Tensor,
                 val_images: torch.Tensor, val_labels: torch.Tensor, held_out: torch.Tensor,
                 augment: Augment, num_classes: int, k: int, seed: int,
                 channels_last: bool = False):
        self.train_images, self.train_labels = train_images, train_labels
        self.val_images, self.val_labels = val_images, val_labels
        self.held_out, self.augment = held_out, augment
        self.num_classes, self.k, self.seed = num_classes, k, seed
        self.channels_last = channels_last

    def probe(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """``knn_acc`` and ``instance_acc`` of a :class:`~synthcl.pretraining.moco.MoCo` model."""
        backbone = model.encoder_q.backbone
        train = embed(backbone, self.train_images, device, self.channels_last, normalized=False)
        val = embed(backbone, self.val_images, device, self.channels_last, normalized=False)
        return {
            "knn_acc": knn_accuracy(train, self.train_labels, val, self.val_labels, self.k,
                                    self.num_classes),
            "instance_acc": instance_accuracy(model.encoder_q, model.encoder_k, self.held_out,
                                              self.augment, self.seed, device,
                                              self.channels_last),
        }
