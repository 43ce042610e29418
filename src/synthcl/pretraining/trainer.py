"""The pre-training loop: ``pretrain(config) -> PretrainResult``.

One loop serves every mode (:mod:`synthcl.pretraining.sources` says what each discriminates). A
run is a number of optimisation steps of ``batch_size`` instances (the global batch, split over
processes, sized to the set by :mod:`synthcl.pretraining.sizing`), each instance giving two f_CL
views. Every random draw of step ``t`` (which
instances, their views, f_S of ``cl-aug``, the shuffle-BN permutation) is a pure function of
``(seed, t)``, so a resumed run repeats an uninterrupted one exactly (bit for bit on the CPU),
and one process computes what several do. The learning rate follows a linear warm-up over
``warmup_steps`` then a cosine decay to 0 (the paper: Adam + cosine; ``optimizer: sgd`` uses
momentum 0.9).

Outputs in ``config.out``: ``config.yaml``, ``log.jsonl`` + TensorBoard events, ``checkpoint.pt``
(every ``checkpoint_every`` steps, every 5 minutes and at the end; atomic), ``backbone.pt`` at the
end (the query encoder's backbone; torchvision layout, no ``fc.*``).

Settings that learn at CPU sizes: see ``benchmarks/calibrate_pretrain.py`` and the README.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from synthcl.config import dump_yaml
from synthcl.data import ImageData, load_for_config, sample_balanced
from synthcl.errors import SynthclError
from synthcl.models import ARCHS, backbone_state_dict, build_backbone, normalize
from synthcl.pretraining.augment import Augment
from synthcl.pretraining.checkpoint import check_same_run, restore_rng, rng_state
from synthcl.pretraining.config import SIZINGS, PretrainConfig
from synthcl.pretraining.distributed import Processes, setup, shuffled_keys
from synthcl.pretraining.methods import modes
from synthcl.pretraining.moco import MoCo
from synthcl.pretraining.monitor import Monitor
from synthcl.pretraining.runlog import RunLog
from synthcl.pretraining.schedule import (
    EpochSampler,
    learning_rate,
    prefetched,
    resolve_bn_splits,
)
from synthcl.pretraining.sizing import fit_to_instances
from synthcl.pretraining.sources import build_sources, images_of
from synthcl.utils.atomic import torch_save, write_text
from synthcl.utils.devices import bf16_autocast_enabled
from synthcl.utils.progress import progress
from synthcl.utils.seeding import derive_seed, make_generator
from synthcl.weights import apply_init, load_checkpoint, read_init, save_checkpoint

CHECKPOINT_NAME, BACKBONE_NAME, CONFIG_NAME = "checkpoint.pt", "backbone.pt", "config.yaml"
CHECKPOINT_SECONDS = 300
DIVERGED_STEPS = 50                   # consecutive steps far above the chance-level loss
DETERMINISTIC_CPU_ONLY = ("deterministic=true is for the CPU (bit-exact resume); CUDA has no "
                          "deterministic kernels for every ResNet layer: drop it or use "
                          "--device cpu")


@dataclasses.dataclass
class PretrainResult:
    out_dir: Path
    backbone_path: Path
    checkpoint_path: Path
    steps: int
    final_loss: float
    wall_time_s: float
    images_per_s: float
    monitor: dict[str, float]
    sizing: dict


def validate(config: PretrainConfig) -> None:
    problems = []
    if config.mode not in modes():
        problems.append(f"--mode {config.mode}: choose one of {', '.join(modes())}")
    if config.arch not in ARCHS:
        problems.append(f"--arch {config.arch}: choose one of {', '.join(ARCHS)}")
    if config.epochs is not None and not 0 < config.epochs < math.inf:
        problems.append(f"epochs {config.epochs}: must be positive (or leave it out and give "
                        f"--steps)")
    if config.sizing not in SIZINGS:
        problems.append(f"sizing {config.sizing}: choose one of {', '.join(SIZINGS)}")
    if config.optimizer not in ("adam", "sgd"):
        problems.append(f"optimizer {config.optimizer}: choose adam or sgd")
    for name in ("steps", "batch_size", "checkpoint_every", "queue_size", "dim", "knn_k"):
        if getattr(config, name) <= 0:
            problems.append(f"{name} {getattr(config, name)}: must be positive")
    for name in ("weight_decay", "warmup_steps", "workers", "monitor_every"):
        if getattr(config, name) < 0:
            problems.append(f"{name} {getattr(config, name)}: must not be negative")
    if 0 < config.queue_size < config.batch_size:
        problems.append(f"queue_size {config.queue_size} is shorter than one batch "
                        f"({config.batch_size}): set queue_size >= batch_size")
    if config.deterministic and config.device.startswith("cuda"):
        problems.append(DETERMINISTIC_CPU_ONLY)
    if not (0 < config.lr < math.inf and 0 < config.temperature < math.inf):
        problems.append(f"lr {config.lr}, temperature {config.temperature}: must be positive "
                        f"and finite")
    if not 0 <= config.key_momentum < 1:
        problems.append(f"key_momentum {config.key_momentum}: must be in [0, 1)")
    if problems:
        raise SynthclError("; ".join(problems))


def _shard_dict(procs: Processes, draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: procs.shard(v) for k, v in draws.items()}


class Trainer:
    """Everything one run holds: sources, model, optimiser, monitor, counters."""

    def __init__(self, config: PretrainConfig, data: ImageData, procs: Processes,
                 resuming: bool = False):
        self.asked = config
        self.resuming = resuming
        self.procs, self.device = procs, procs.device
        self.out = Path(config.out)
        cuda = self.device.type == "cuda"
        self.amp = bf16_autocast_enabled(self.device, config.amp and not config.deterministic)
        # on the CPU channels_last pays only with bf16 (R18 64 px: +15% with it, -11% in fp32)
        self.channels_last = config.channels_last and (cuda or self.amp)
        sample = sample_balanced(data.splits["train"], config.n, config.seed, data.class_names)
        self.sources = build_sources(config, data, sample)
        train = self.sources.train
        _, _, h, w = train.batch(torch.zeros(1, dtype=torch.long)).shape
        self.sizing = fit_to_instances(config, len(train), procs.world)
        # the settings the run uses: batch, queue and steps as sized (see pretraining.sizing)
        c = self.config = dataclasses.replace(
            config, batch_size=self.sizing.batch, queue_size=self.sizing.queue,
            steps=self.sizing.steps, warmup_steps=self.sizing.warmup_steps)
        self.batch = c.batch_size
        self.bn_splits = resolve_bn_splits(c.bn_splits, self.batch, procs.world)
        self.notes = [self.sizing.note] if self.sizing.note else []
        if self.sizing.note and procs.main:
            warnings.warn(self.sizing.note, stacklevel=3)
        self.model = self._build_model(c.queue_size, (h, w))
        self.query_net = self.model.encoder_q
        if procs.world > 1:
            self.query_net = DistributedDataParallel(
                self.model.encoder_q, device_ids=[self.device] if cuda else None)
        params = list(self.model.encoder_q.parameters())
        # the fused kernels (8x faster steps on the CPU) on the bf16 path; fp32 runs keep the
        # per-tensor loop, so their results stay bit-for-bit what they were
        if c.optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay,
                                              fused=self.amp)
        else:
            self.optimizer = torch.optim.SGD(params, lr=c.lr, momentum=0.9,
                                             weight_decay=c.weight_decay, fused=self.amp)
        self.augment = Augment((h, w))
        self.encode = self.encode_eager
        if c.compile and not c.deterministic:
            self.encode = torch.compile(self.encode_eager)
        self.sampler = EpochSampler(len(train), self.batch, c.seed)
        self.monitor = Monitor(
            images_of(sample.train), torch.from_numpy(sample.train.labels),
            images_of(sample.val), torch.from_numpy(sample.val.labels), self.sources.held_out,
            self.augment, data.num_classes, c.knn_k, c.seed, self.channels_last)
        self.step = 0
        self.stats = {"loss": float("nan"), "train_time_s": 0.0, "wall_time_s": 0.0,
                      "images": 0}
        self.probes: dict[str, float] = {}
        self.above_chance = 0

    def _build_model(self, queue_size: int, hw: tuple[int, int]) -> MoCo:
        """The MoCo model, initialised from ``(seed, "init")`` (or ``config.init``, unless the
        run resumes from a checkpoint, which holds the weights), on the training device."""
        c = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(c.seed, "init"))
            backbone = build_backbone(c.arch, c.width, c.small_stem, hw)
            model = MoCo(backbone, c.dim, queue_size, c.key_momentum, c.temperature,
                         self.bn_splits // self.procs.world, make_generator(c.seed, "queue"))
        if c.init and not self.resuming:
            weights = read_init(c.init, c.arch, allow_unfinished=c.allow_unfinished)
            apply_init(model.encoder_q, weights, c.init)
            model.encoder_k.load_state_dict(model.encoder_q.state_dict())
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    # -- state -----------------------------------------------------------------------------
    def state(self, finished: bool) -> dict:
        return {"config": dataclasses.asdict(self.asked), "step": self.step,
                "finished": finished, "sizing": self.sizing.describe(),
                "backbone": backbone_state_dict(self.model.encoder_q.backbone),
                "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "optimizer": self.optimizer.state_dict(),
                "scheduler": {"kind": "warmup-cosine", "lr": self.config.lr,
                              "warmup_steps": self.config.warmup_steps,
                              "steps": self.config.steps, "step": self.step},
                "rng": rng_state(), "stats": dict(self.stats), "monitor": dict(self.probes)}

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        restore_rng(state["rng"])
        self.step = state["step"]
        self.stats.update(state["stats"])
        self.probes = dict(state["monitor"])

    def save(self, finished: bool = False) -> None:
        if self.procs.main:
            save_checkpoint(self.out / CHECKPOINT_NAME, self.state(finished))

    # -- one step --------------------------------------------------------------------------
    def make_batch(self, step: int) -> tuple[torch.Tensor, ...]:
        """The two views (network input) of this rank's share of step ``step``, the shuffle-BN
        permutation of the global batch, and the global batch's instance ids."""
        c, procs, b = self.config, self.procs, self.batch
        ids = self.sampler.indices(step)
        images = self.sources.train.batch(procs.shard(ids), self.device)
        _, ch, h, w = images.shape
        views = []
        for view in range(2):
            x = images
            f_s = self.sources.view_generator
            if f_s is not None:
                draws = f_s.draw(b, ch, h, w, make_generator(c.seed, "f_S", step, view))
                x = f_s.apply(x, _shard_dict(procs, draws))
            params = self.augment.draw(b, h, w, make_generator(c.seed, "view", step, view))
            x = normalize(self.augment.apply(x, _shard_dict(procs, params)))
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            views.append(x)
        perm = torch.randperm(b, generator=make_generator(c.seed, "shuffle-bn", step))
        return views[0], views[1], perm, ids.to(self.device)

    def train_step(self, step: int, batch: tuple) -> float:
        """One MoCo v2 step, in the reference order: momentum update of the key encoder, keys
        of the second views (no gradient, shuffle-BN), queries of the first views, InfoNCE
        against the queue (a query's own instance masked), optimiser step, enqueue the keys."""
        query_views, key_views, perm, ids = batch
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.config, step)
        model = self.model
        model.momentum_update()
        q, k = self._encode(query_views, key_views, perm)
        loss = model.loss(model.logits(q, k, self.procs.shard(ids)))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        model.enqueue(self.procs.gather(k), ids)
        return float(self.procs.mean(loss.detach()))

    def _encode(self, query_views: torch.Tensor, key_views: torch.Tensor, perm: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries and keys through the compiled forward; on a compilation failure, a warning
        and eager from then on (compilation fails before the graph runs, so nothing is lost)."""
        try:
            return self.encode(query_views, key_views, perm)
        except Exception as exc:                      # any compiler failure
            if self.encode == self.encode_eager:
                raise
            warnings.warn(f"torch.compile failed ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:300]}); pre-training continues eager "
                          f"(--set compile=false skips the attempt)", stacklevel=2)
            self.encode = self.encode_eager
            return self.encode(query_views, key_views, perm)

    def encode_eager(self, query_views: torch.Tensor, key_views: torch.Tensor,
                     perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries of the first views and shuffle-BN keys of the second, under autocast."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            k = shuffled_keys(self.model.keys, key_views, perm, self.procs)
            q = self.query_net(query_views)
        return q, k

    def check(self, loss: float, step: int) -> None:
        """Stop on a non-finite loss, or one far above chance level for many steps."""
        c = self.config
        chance = math.log(self.model.queue_size + 1)
        if not math.isfinite(loss):
            raise SynthclError(
                f"pre-training stopped at step {step}: the loss is {loss}. Likely cause: a "
                f"learning rate too high for {c.optimizer} (lr {c.lr}; try {c.lr / 10:g})"
                + (", or bf16 overflow (try --set amp=false)" if self.amp else ""))
        self.above_chance = self.above_chance + 1 if loss > chance + 1 / c.temperature else 0
        if self.above_chance >= DIVERGED_STEPS:
            raise SynthclError(
                f"pre-training stopped at step {step}: the loss ({loss:.2f}) stayed above "
                f"log(K+1) + 1/T = {chance + 1 / c.temperature:.2f} for {DIVERGED_STEPS} steps, "
                f"so positives score below the negatives: the training diverged. Likely cause: "
                f"learning rate {c.lr} too high (try {c.lr / 10:g})")

    # -- the run ---------------------------------------------------------------------------
    def probe(self) -> dict[str, float]:
        latest = self.monitor.probe(self.model, self.device)
        if not self.probes:                   # before the first step: the random-init baseline
            self.probes = {f"{k}_random": v for k, v in latest.items()}
        self.probes.update(latest)
        return dict(self.probes)

    def run(self) -> PretrainResult:
        c, procs = self.config, self.procs
        if procs.main:
            write_text(self.out / CONFIG_NAME, dump_yaml(c))
        log = RunLog(self.out, self.step, procs.main)
        start_wall = time.perf_counter() - self.stats["wall_time_s"]
        every = c.monitor_every or max(1, c.steps // 10)
        log_every = max(1, min(50, c.steps // 100))
        try:
            for note in self.notes:
                log.write(self.step, warning=note)
            if procs.main and not self.probes:
                log.write(0, **self.probe())
            bar = (progress(total=c.steps, initial=self.step, desc=f"pretrain {c.mode}",
                            unit="step") if procs.main else tqdm(disable=True))
            last_save = time.monotonic()
            for step, batch in prefetched(self.make_batch, range(self.step, c.steps), c.workers):
                t0 = time.perf_counter()
                loss = self.train_step(step, batch)
                self.step = step + 1
                self.stats["train_time_s"] += time.perf_counter() - t0
                self.stats["images"] += self.batch
                self.stats["loss"] = loss
                self.check(loss, self.step)
                speed = self.stats["images"] / max(self.stats["train_time_s"], 1e-9)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", img_s=f"{speed:.0f}", refresh=False)
                if self.step % log_every == 0 or self.step == c.steps:
                    log.write(self.step, loss=loss, lr=learning_rate(c, step), images_per_s=speed)
                if procs.main and (self.step % every == 0 or self.step == c.steps):
                    log.write(self.step, **self.probe())
                self.stats["wall_time_s"] = time.perf_counter() - start_wall
                due = self.step % c.checkpoint_every == 0
                if self.step < c.steps and (due or time.monotonic() - last_save
                                            > CHECKPOINT_SECONDS):
                    self.save()
                    last_save = time.monotonic()
            bar.close()
            self.stats["wall_time_s"] = time.perf_counter() - start_wall
            if procs.main:                     # before the finished checkpoint, which ends a run
                torch_save(backbone_state_dict(self.model.encoder_q.backbone),
                           self.out / BACKBONE_NAME)
            self.save(finished=True)
            procs.barrier()
        finally:
            log.close()
        return result_of(self.out, {"step": self.step, "stats": self.stats,
                                    "monitor": self.probes, "sizing": self.sizing.describe()})


def result_of(out: Path, state: dict) -> PretrainResult:
    stats = state["stats"]
    return PretrainResult(
        out_dir=out, backbone_path=out / BACKBONE_NAME, checkpoint_path=out / CHECKPOINT_NAME,
        steps=state["step"], final_loss=stats["loss"], wall_time_s=stats["wall_time_s"],
        images_per_s=stats["images"] / max(stats["train_time_s"], 1e-9),
        monitor=dict(state["monitor"]), sizing=dict(state.get("sizing") or {}))


@contextlib.contextmanager
def _deterministic(enabled: bool) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    if enabled:
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def pretrain(config: PretrainConfig, data: ImageData | None = None) -> PretrainResult:
    """Pre-train (or resume, with ``config.resume``) the run ``config`` describes; see the module
    docstring. ``data`` defaults to :func:`synthcl.data.load_for_config`."""
    validate(config)
    out = Path(config.out)
    state = None
    if (out / CHECKPOINT_NAME).exists():
        if not config.resume:
            raise SynthclError(f"--out {out} already holds a pre-training run; pass --resume to "
                               f"continue it, or choose another --out")
        state = load_checkpoint(out / CHECKPOINT_NAME)
        check_same_run(config, state["config"], out)
        if state["finished"]:
            return result_of(out, state)
    procs = setup(config.device)
    try:
        if data is None:
            data = load_for_config(config)
        if config.deterministic and procs.device.type == "cuda":      # --device auto
            raise SynthclError(DETERMINISTIC_CPU_ONLY)
        with _deterministic(config.deterministic):
            trainer = Trainer(config, data, procs, resuming=state is not None)
            if state is not None:
                trainer.restore(state)
            return trainer.run()
    finally:
        procs.close()
