"""``synthcl evaluate``: measure a fine-tuned model (``synthcl finetune``'s model.pt) on a split."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from synthcl.errors import SynthclError

HELP = "measure a fine-tuned model on a dataset split (accuracy, balanced accuracy, confusion)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="MODEL.pt",
                        help="a model written by 'synthcl finetune' (DIR/seed<k>/model.pt, or "
                             "the folder holding it); a pre-training is measured by "
                             "'synthcl finetune --init DIR'")
    parser.add_argument("--data", metavar="PATH",
                        help="dataset (default: the one the model was fine-tuned on, its "
                             "relative path read from the model's folder)")
    parser.add_argument("--format", help="force the data format (default: as at fine-tuning)")
    parser.add_argument("--image-size", metavar="S|WxH",
                        help="resize at load (default: as at fine-tuning)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow loading a pickle (WM-811K LSWMD.pkl); only for files you "
                             "trust, since unpickling can run code; never inherited from the "
                             "model")
    parser.add_argument("--split", default="test", choices=("test", "val", "train"),
                        help="which split to measure (default: test)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:k]")
    parser.add_argument("--batch-size", type=int, default=512, help="images per batch")
    parser.add_argument("--out", metavar="FILE.json", help="also write the JSON result here")


def run(args: argparse.Namespace) -> int:
    from synthcl.data import load_dataset
    from synthcl.finetune.classifier import load_model, predict_logits
    from synthcl.finetune.metrics import classification_metrics
    from synthcl.utils.atomic import write_json
    from synthcl.utils.devices import resolve_device

    if args.out and (Path(args.out).suffix.lower() != ".json"
                     or Path(args.out).resolve() == Path(args.checkpoint).resolve()):
        raise SynthclError(f"--out {args.out}: the result is JSON: give a .json file (never the "
                           f"model file)")
    start = time.perf_counter()
    if args.batch_size < 1:
        raise SynthclError(f"--batch-size {args.batch_size}: must be at least 1")
    model, meta = load_model(args.checkpoint)
    trained = meta["data"]
    data_path = args.data if args.data is not None else trained["data"]
    image_size = args.image_size if args.image_size is not None else trained["image_size"]
    data = load_dataset(
        data_path,
        format=args.format if args.format is not None else trained["format"],
        image_size=image_size,
        allow_pickle=args.allow_pickle)
    class_names = list(meta["class_names"])
    if list(data.class_names) != class_names:
        raise SynthclError(f"--data {data_path}: its classes {list(data.class_names)} differ from "
                           f"the model's {class_names}")
    split = data.splits.get(args.split)
    if split is None or len(split) == 0:
        raise SynthclError(f"--split {args.split}: the dataset {data_path} has no images there")
    if list(split.images.shape[1:3]) != list(meta["image_hw"]):
        raise SynthclError(
            f"--data {data_path}: images are {split.images.shape[1]}x{split.images.shape[2]} "
            f"(HxW) but the model was fine-tuned on {meta['image_hw'][0]}x{meta['image_hw'][1]}; "
            f"pass --image-size {meta['image_hw'][1]}x{meta['image_hw'][0]}")
    device = resolve_device(args.device)
    config = meta["config"]
    model.to(device)
    logits = predict_logits(model, split.tensor(), device, batch_size=args.batch_size,
                            amp=config.get("amp", True),
                            channels_last=config.get("channels_last", True),
                            desc=f"evaluate {args.split}")
    metrics = classification_metrics(split.labels, logits.argmax(1).numpy(), class_names)
    result = meta["result"]
    report = {
        "checkpoint": str(args.checkpoint),
        "data": {"data": data_path, "image_size": image_size, "name": data.name,
                 "split": args.split, "size": len(split)},
        **metrics,
        "model": {key: result.get(key) for key in (
            "seed", "n", "init", "init_weights", "architecture", "augment", "chosen",
            "val_accuracy", "val_curve", "wall_time_s")},
        "config": config,
        "eval_wall_time_s": round(time.perf_counter() - start, 3),
    }
    if args.out:
        write_json(args.out, report)
    print(one_key_per_line(report))
    return 0


def one_key_per_line(report: dict) -> str:
    """JSON with one top-level key per line (curves and matrices stay on their line)."""
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in report.items()]
    return "{\n" + ",\n".join(lines) + "\n}"
