"""Training commands of spade-studio-cli: train, export, check-data, make-landscapes, train-segmenter, evaluate.

They are added to the one CLI by `spade_studio.cli.build_parser` (`add_commands`); this module
imports nothing from `spade_studio.cli`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .config import TrainConfig, add_arguments, from_args
from .events import encode, format_eta

DATASET_MODES = ["paired", "coco", "ade20k", "cityscapes"]


def add_train_arguments(t: argparse.ArgumentParser) -> None:
    """The options of ``train``: every TrainConfig field (trainer/config.py holds their defaults
    and help), plus ``--resume`` and ``--progress``."""
    add_arguments(t)
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--progress", choices=["bar", "jsonl", "none"], default="bar")


def config_from_args(a: argparse.Namespace) -> TrainConfig:
    return from_args(a)


class ProgressBar:
    def __init__(self, stream=None) -> None:
        stream = sys.stderr if stream is None else stream  # the stream of now, not of import time
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, ev: dict) -> None:
        kind = ev["event"]
        if kind == "step":
            losses = " ".join(f"{k} {v:.3f}" for k, v in ev["losses"].items())
            frac = ev["step"] / max(ev["total"], 1)
            bar = "#" * int(frac * 24) + "-" * (24 - int(frac * 24))
            line = (f"[{bar}] {ev['step']}/{ev['total']} {ev['it_s']:.2f} it/s eta {format_eta(ev.get('eta_s'))}"
                    f"  {losses}")
            if self.tty:
                print("\r" + line[:160], end="", file=self.stream, flush=True)
            else:
                print(line, file=self.stream, flush=True)
        elif kind in ("warning", "log", "error"):
            print(("\n" if self.tty else "") + f"{kind}: {ev.get('message')}", file=self.stream, flush=True)
        elif kind == "start":
            print(f"training {ev['run']}: {ev['samples']} pairs, step {ev['step']}/{ev['total']} on {ev['device']}"
                  + (f" x{ev['world']}" if ev.get("world", 1) > 1 else ""), file=self.stream, flush=True)
        elif kind in ("done", "stopped"):
            print(("\n" if self.tty else "") + f"{kind} at step {ev['step']}: model {ev['model']}",
                  file=self.stream, flush=True)


def _jsonl(ev: dict) -> None:
    sys.stdout.write(encode(ev) + "\n")
    sys.stdout.flush()


def cmd_train(a: argparse.Namespace) -> int:
    from .loop import train

    cfg = config_from_args(a)
    stop_flag = threading.Event()

    def on_signal(signum, frame):  # first signal: finish the step and save; second: default
        if stop_flag.is_set():
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        stop_flag.set()
        print("\nstopping after this step (saving a checkpoint)...", file=sys.stderr, flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, on_signal)
        except (ValueError, OSError):
            pass
    progress = {"bar": ProgressBar(), "jsonl": _jsonl, "none": None}[a.progress]
    try:
        res = train(cfg, progress, stop_flag.is_set, resume=a.resume)
    except Exception as exc:
        if a.progress == "jsonl":
            _jsonl({"event": "error", "message": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    "kind": type(exc).__name__})
        raise
    if a.progress == "none":
        print(f"{res.status} at step {res.step}: {res.model_path}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from .loop import export_run

    out = export_run(a.run, a.output, half=a.half)
    print(out)
    return 0


class CheckProgress:
    """``check-data`` progress on stderr: a line updated in place on a terminal (every
    ``tty_every`` pairs), else a line every ``every`` pairs for folders of at least that many."""

    def __init__(self, stream=sys.stderr, every: int = 1000, tty_every: int = 50) -> None:
        self.stream, self.every, self.tty_every = stream, every, tty_every
        try:
            self.tty = bool(stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            if done % self.tty_every == 0 or done == total:
                end = "\n" if done == total else ""
                print(f"\rchecking pairs: {done}/{total}", end=end, file=self.stream, flush=True)
        elif total >= self.every and (done % self.every == 0 or done == total):
            print(f"checking pairs: {done}/{total}", file=self.stream, flush=True)


def cmd_check_data(a: argparse.Namespace) -> int:
    from .datacheck import check_data

    report = check_data(a.folder, label_set=a.label_set, label_nc=a.label_nc, dataset_mode=a.dataset_mode,
                        split=a.split, on_progress=CheckProgress())
    if a.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.to_text())
    return 1 if report.fatal else 0


def cmd_train_segmenter(a: argparse.Namespace) -> int:
    from .evaluation import train_segmenter

    def progress(ev: dict) -> None:
        print(f"segmenter {ev['step']}/{ev['total']} loss {ev['loss']:.3f} ({ev['elapsed_s']:.0f} s)",
              file=sys.stderr, flush=True)

    scores = train_segmenter(a.data, a.out, size=a.size, iters=a.iters, batch=a.batch, width=a.width, seed=a.seed,
                             label_set=a.label_set, dataset_mode=a.dataset_mode, limit=a.limit, on_progress=progress)
    print(f"{a.out}: training-set mIoU {scores['mIoU'] * 100:.1f}%, pixel accuracy "
          f"{scores['pixel_accuracy'] * 100:.1f}%")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .evaluation import evaluate, format_table

    res = evaluate(a.model, a.data, a.segmenter, size=a.size, split=a.split, limit=a.limit, device=a.device,
                   style=a.style, seed=a.seed)
    print(format_table(res))
    print(json.dumps(res, indent=1))
    if a.json_out:
        from spade_studio.imageio import atomic_write

        atomic_write(a.json_out, json.dumps(res, indent=1).encode())
    return 0


def cmd_make_landscapes(args: argparse.Namespace) -> int:
    from trainer.landscapes import make_landscapes

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 10 == 0 or done == total):
            print(f"\r{done}/{total} scenes", end="" if done < total else "\n", file=sys.stderr)

    summary = make_landscapes(args.output, args.count, size=args.size, seed=args.seed, aspect=args.aspect,
                              on_progress=progress, workers=args.workers)
    print(f"{args.output}: {summary.get('count', args.count)} scenes ({args.size}px, seed {args.seed})")
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("train-segmenter", help="train the evaluation segmenter on a dataset's real images")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True, help="segmenter file (.safetensors)")
    s.add_argument("--size", type=int, default=128)
    s.add_argument("--iters", type=int, default=2000)
    s.add_argument("--batch", type=int, default=16)
    s.add_argument("--width", type=int, default=32)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--limit", type=int, help="use at most this many pairs")
    s.add_argument("--label-set")
    s.add_argument("--dataset-mode", choices=DATASET_MODES)
    s.set_defaults(func=cmd_train_segmenter)

    v = sub.add_parser("evaluate", help="mIoU / pixel accuracy of a model's renders (SPADE paper protocol)")
    v.add_argument("model")
    v.add_argument("--data", required=True)
    v.add_argument("--segmenter", required=True)
    v.add_argument("--size", type=int)
    v.add_argument("--split", default="train")
    v.add_argument("--limit", type=int)
    v.add_argument("--device", default="cpu")
    v.add_argument("--style", choices=["image", "seed"], default="image",
                   help="style per map: the encoded real image (default) or a seed")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--json-out", help="also write the JSON result to this file")
    v.set_defaults(func=cmd_evaluate)

    m = sub.add_parser("make-landscapes", help="write procedural landscape scenes (paired folder)")
    m.add_argument("output", help="output folder")
    m.add_argument("--count", type=int, default=100)
    m.add_argument("--size", type=int, default=256)
    m.add_argument("--aspect", type=float, default=1.0)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--workers", type=int, default=1)
    m.set_defaults(func=cmd_make_landscapes)

    t = sub.add_parser("train", help="train or fine-tune a model on a folder")
    add_train_arguments(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("export", help="write a run's model file")
    e.add_argument("run", help="run folder")
    e.add_argument("-o", "--output", required=True, help="output .safetensors")
    e.add_argument("--half", action="store_true", help="store weights as float16 (half the file size)")
    e.set_defaults(func=cmd_export)

    c = sub.add_parser("check-data", help="report on a dataset folder before training")
    c.add_argument("folder")
    c.add_argument("--label-set", help="label set name or JSON file")
    c.add_argument("--label-nc", type=int, help="number of classes (no label set; 1..4096)")
    c.add_argument("--dataset-mode", choices=DATASET_MODES)
    c.add_argument("--split", default="train", help="split of official layouts (train, val)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_check_data)
