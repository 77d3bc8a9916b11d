"""spade-studio-cli: headless rendering, model conversion and inspection, training tools.

Every error is one clear line on stderr and exit code 1 (set SPADE_STUDIO_DEBUG=1 for a
traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 1."""


def _special_kind(path: Path) -> str | None:
    """What ``path`` is when it exists and is neither a regular file nor a folder."""
    import stat

    from spade_studio.safefiles import file_kind

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return file_kind(mode)


def output_target(out: Path, default_name: str, suffixes: tuple[str, ...], folder_only: bool = False) -> Path:
    """The file ``-o OUT`` names: OUT itself when it has one of ``suffixes`` (or is an existing
    regular file), else ``OUT/default_name`` (a folder, made when missing). Devices, FIFOs and
    sockets are refused: they are never replaced or taken for folders."""
    kind = _special_kind(out)
    if kind:
        raise CLIError(f"-o {out}: exists and is {kind}, not a file or folder: give an image file or a folder")
    if (out.suffix.lower() not in suffixes and not out.exists()
            and out.suffix.lower() in _other_file_suffixes()):  # -o out.gif: not a folder named out.gif
        raise CLIError(f"-o {out}: {out.suffix} files are not written here: give {', '.join(suffixes)} or a folder")
    if folder_only:
        if out.exists() and not out.is_dir():
            raise CLIError(f"-o {out}: several files are made: give a folder, not a file")
        return out
    if out.is_dir():
        return out / default_name
    if out.suffix.lower() in suffixes or out.is_file():
        return out
    return out / default_name


def _other_file_suffixes() -> set[str]:
    """Suffixes of image and model files (Pillow's, ours): an -o that has one names a file."""
    from PIL import Image

    return set(Image.registered_extensions()) | {".ora", ".psd", ".xcf", ".svg", ".exr", ".heic", ".avif",
                                                   ".safetensors", ".pth", ".pt", ".onnx", ".json", ".txt"}


# ---------------------------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------------------------
def _load_synth(args: argparse.Namespace):
    from spade_studio.model.synthesize import Synthesizer

    return Synthesizer(args.model, device=args.device, dataset=getattr(args, "dataset", None),
                       precision=args.precision, fast=not getattr(args, "plain", False))


MAX_VARIATIONS = 64
MAX_SEED = 2**63 - 1


def _refuse_overwriting_inputs(out: Path, inputs: list[Path], names_in_folder: list[str]) -> None:
    """-o must not name a file this command reads (a label map rendered onto itself is lost)."""
    targets = [out / n for n in names_in_folder] if names_in_folder else [out]
    for t in targets:
        for p in inputs:
            try:
                same = t.exists() and p.exists() and os.path.samefile(t, p)
            except OSError:
                same = False
            if same:
                raise CLIError(f"-o {t}: is the input {p}: writing there would destroy it; give another file")


def cmd_render(args: argparse.Namespace) -> int:
    from spade_studio.imageio import read_instance_map, read_label_map, read_rgb, write_image

    labels = [Path(p) for p in args.labels]
    for p in labels:
        if not p.exists():
            raise CLIError(f"{p}: no such label map")
        if _special_kind(p) or p.is_dir():
            raise CLIError(f"{p}: {_special_kind(p) or 'a folder'}, not a label map image")
    if args.instance and len(args.instance) != len(labels):
        raise CLIError(f"--instance: {len(args.instance)} instance map(s) for {len(labels)} label map(s)")
    if not 1 <= args.variations <= MAX_VARIATIONS:
        raise CLIError(f"--variations {args.variations}: give 1..{MAX_VARIATIONS}")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise CLIError(f"--seed {args.seed}: give 0..{MAX_SEED}")
    k = args.variations
    many = len(labels) > 1 or k > 1
    if not args.output.strip():  # Path("") is ".": the render would land in the current folder
        raise CLIError("-o '': empty: give a file or a folder")
    out = Path(args.output)
    if many and out.suffix.lower() in (".png", ".jpg", ".jpeg"):
        raise CLIError(f"-o {out}: several images are made (maps x variations): give a folder, not a file")
    out = output_target(out, labels[0].stem + ".png", (".png", ".jpg", ".jpeg", ".webp", ".bmp"), folder_only=many)
    if many:  # OUT/<stem>.png per map: two maps of one name would overwrite one render with the other
        seen: dict[str, Path] = {}
        for lp in labels:
            if lp.stem in seen:
                raise CLIError(f"-o {out}: {seen[lp.stem]} and {lp} would both be written as {lp.stem}.png "
                               f"(one render lost): give maps of distinct names, or render them one at a time")
            seen[lp.stem] = lp
    region_specs = _region_specs(args)  # --style-for: syntax, presets, seeds and files checked before the model loads
    inputs = labels + [Path(p) for p in (args.instance or [])] + ([Path(args.style)] if args.style else [])
    inputs += [Path(r.value) for r in region_specs if r.kind == "image"]
    _refuse_overwriting_inputs(out, inputs, [lp.stem + ".png" for lp in labels] if many or out.is_dir() else [])
    synth = _load_synth(args)
    for note in synth.bundle.notes:
        print(f"note: {note}", file=sys.stderr)
    style_z = None
    if args.style:
        if not synth.uses_style or not synth.has_encoder:
            raise CLIError(f"--style: the model has no style encoder ({synth.label_set.name}); omit --style")
        style_z = synth.encode_style(read_rgb(args.style))
    region_targets = _region_targets(synth, region_specs)
    if k > 1 and not synth.uses_style:
        print("note: this model takes no style vector: all variations are identical", file=sys.stderr)
    base_seed = 0 if args.seed is None else args.seed
    for i, lp in enumerate(labels):
        lf = read_label_map(lp, synth.label_set)
        if lf.from_colors:
            print(f"note: {lp}: colour label image decoded through the '{synth.label_set.name}' palette",
                  file=sys.stderr)
        inst = read_instance_map(args.instance[i]) if args.instance else None
        if inst is None and synth.config.use_instance:
            print(f"note: {lp}: no instance map; instance edges derived from connected label regions",
                  file=sys.stderr)
        tile_kw = _tile_options(args, lp)
        tile_kw["region_styles"] = _map_regions(synth, lf.ids, region_targets, lp)  # render() keywords
        tile_kw["instance_where"] = str(args.instance[i]) if args.instance else None  # F4: size errors name it
        for v in range(k):
            if style_z is not None:
                res = synth.render(lf.ids, inst, z=style_z, where=str(lp), quality=args.quality, **tile_kw) if v == 0 else \
                    synth.render(lf.ids, inst, z=_style_sample(synth, args.style, base_seed + v), where=str(lp),
                                 quality=args.quality, **tile_kw)
            else:
                res = synth.render(lf.ids, inst, seed=base_seed + v, where=str(lp), quality=args.quality, **tile_kw)
            target = out if not many else out / (f"{lp.stem}.png" if k == 1 else f"{lp.stem}_v{v:02d}.png")
            write_image(target, res.image)
            for note in res.notes:
                print(f"note: {note}", file=sys.stderr)
            print(f"{target}  ({res.image.shape[1]}x{res.image.shape[0]}, {res.seconds * 1000:.0f} ms)")
    return 0


def _tile_arg(text: str):
    t = text.strip().lower()
    if t in ("auto", "off"):
        return t
    try:
        n = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give auto, off or a tile size in px (e.g. 512)") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a tile size must be positive")
    return n


def _tile_options(args: argparse.Namespace, label_path: Path) -> dict:
    """render() keywords for --tile / --wrap, with tile progress on stderr (a counter on a
    terminal, one line per tile otherwise)."""
    tile = None if args.tile == "off" else args.tile
    if args.tile == "off" and args.wrap:
        raise CLIError("--wrap renders in tiles around the panorama: use --tile auto or N, not off")
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if total <= 1 or done == 0:
            return
        if tty:
            print(f"\r{label_path.name}: tile {done}/{total}", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)
        else:
            print(f"{label_path.name}: tile {done}/{total}", file=sys.stderr, flush=True)

    return {"tile": tile, "wrap": bool(args.wrap), "progress": progress}


def _style_sample(synth, style_path: str, seed: int):
    from spade_studio.imageio import read_rgb

    return synth.encode_style(read_rgb(style_path), sample=True, seed=seed)


def _region_specs(args: argparse.Namespace) -> list:
    from spade_studio.model.regional import parse_style_for

    return [parse_style_for(t) for t in (getattr(args, "style_for", None) or [])]


def _region_targets(synth, specs: list) -> list[tuple[int, object, str]]:
    """--style-for LABEL=STYLE -> (label id, z, name) for the loaded model."""
    from spade_studio.model.regional import resolve_label, style_for_z

    if specs and not synth.uses_style:
        raise CLIError(f"--style-for: the model takes no style vector ({synth.label_set.name}, label-map input): "
                       f"region styles need a VAE model")
    lids, first = [], {}
    for spec in specs:  # every label resolved (and none named twice) before any style is encoded
        lid = resolve_label(synth.label_set, spec.label, where=f"--style-for {spec.text!r}")
        if lid in first:
            raise CLIError(f"--style-for {spec.text!r}: label {synth.label_set.name_of(lid)!r} ({lid}) already has "
                           f"a style ({first[lid]!r}): give each label once")
        first[lid] = spec.text
        lids.append(lid)
    return [(lid, style_for_z(synth, spec), f"{synth.label_set.name_of(lid)}={spec.text.partition('=')[2]}")
            for lid, spec in zip(lids, specs)]


def _map_regions(synth, ids, targets: list, label_path: Path) -> list | None:
    from spade_studio.model.regional import label_regions

    if not targets:
        return None
    regions, notes = label_regions(ids, targets, synth.label_set)
    for note in notes:
        print(f"note: {label_path}: {note}", file=sys.stderr)
    return regions


# ---------------------------------------------------------------------------------------------
# convert / info
# ---------------------------------------------------------------------------------------------
def cmd_convert(args: argparse.Namespace) -> int:
    from spade_studio.model.checkpoint import load_any, save_model

    src = Path(args.source)
    if src.suffix == ".safetensors":
        raise CLIError(f"{src}: already a SPADE Studio model file")
    out = Path(args.output)
    if out.suffix and out.suffix.lower() != ".safetensors" and not out.is_dir():  # F5: m.onnx became m.safetensors
        raise CLIError(f"-o {out}: convert writes SPADE Studio models (.safetensors), not {out.suffix} files: "
                       f"give a .safetensors file or a folder")
    bundle = load_any(src, args.dataset)
    for note in bundle.notes:
        print(f"note: {note}", file=sys.stderr)
    if _special_kind(out):
        raise CLIError(f"-o {out}: exists and is {_special_kind(out)}, not a file or folder: give a .safetensors file")
    _refuse_overwriting_inputs(out, [src] + (list(src.iterdir()) if src.is_dir() else []), [])
    if out.suffix.lower() != ".safetensors" or out.is_dir():  # a folder (other suffixes were refused above)
        out = out / (src.stem + ".safetensors")
    save_model(bundle, out)
    print(f"{out}: {bundle.label_set.name}, {bundle.generator.label_nc} classes, "
          f"encoder {'yes' if bundle.has_encoder else 'no'}")
    return 0


def model_info(bundle) -> dict:
    g = bundle.generator
    params = bundle.parameter_count()
    return {
        "label_set": bundle.label_set.name,
        "classes": g.label_nc,
        "semantic_nc": g.semantic_nc,
        "generator": g.to_dict(),
        "official_options": g.to_official(),
        "native_size_hw": list(g.output_hw),
        "latent_stride": g.stride,
        "encoder": bundle.has_encoder,
        "encoder_config": bundle.encoder.to_dict() if bundle.has_encoder else None,
        "parameters": params,
        "provenance": bundle.provenance,
        "official_weights": bundle.official,
        "labels": [{"id": lab.id, "name": lab.name, "color": list(lab.color)} for lab in bundle.label_set],
    }


def _finite(value):
    """``value`` with non-finite floats replaced by their text (``"nan"``), for strict JSON."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def cmd_info(args: argparse.Namespace) -> int:
    from spade_studio.model.checkpoint import load_any
    from spade_studio.paths import default_model_path

    path = args.model or default_model_path()
    if path is None:
        raise CLIError("no model given and no bundled default model")
    bundle = load_any(path, args.dataset)
    info = model_info(bundle)
    if args.json:  # strict JSON: a NaN / infinity in the file's metadata is printed as a string
        print(json.dumps(_finite(info), indent=1, allow_nan=False))
        return 0
    g = bundle.generator
    p = info["parameters"]
    print(f"model:        {path}")
    print(f"label set:    {info['label_set']} ({g.label_nc} classes"
          + (", + dontcare" if g.contain_dontcare_label else "")
          + (", + instance edges" if g.use_instance else "") + f"; {g.semantic_nc} input channels)")
    print(f"generator:    ngf {g.ngf}, {g.norm_G}, SPADE hidden {g.spade.hidden}, "
          f"{g.num_upsampling_layers} upsampling ({g.upsampling} doubling), crop {g.crop_size}, aspect {g.aspect_ratio}"
          + (", noise inputs" if g.noise_inputs else ""))
    print(f"input path:   {'VAE (z -> Linear fc), z_dim ' + str(g.z_dim) if g.use_vae else 'label map (conv fc)'}")
    print(f"native size:  {g.output_hw[1]}x{g.output_hw[0]} (W x H), sizes in steps of {g.stride} px")
    print(f"encoder:      {'yes' if bundle.has_encoder else 'no'}")
    print(f"parameters:   G {p['G']:,}" + (f", E {p['E']:,}" if p["E"] else ""))
    if bundle.provenance:
        print(f"provenance:   {json.dumps(bundle.provenance)}")
    for note in bundle.notes:
        print(f"note:         {note}")
    names = ", ".join(f"{lab.id} {lab.name}" for lab in list(bundle.label_set)[:20])
    more = f", ... ({len(bundle.label_set)} in all)" if len(bundle.label_set) > 20 else ""
    print(f"labels:       {names}{more}")
    return 0


# ---------------------------------------------------------------------------------------------
# export-layers
# ---------------------------------------------------------------------------------------------
def cmd_export_layers(args: argparse.Namespace) -> int:
    """A label map or an .ora project -> a layered .ora or .psd (the output suffix chooses)."""
    from spade_studio.imageio import read_label_map, read_rgb
    from spade_studio.labels import LabelError, load_label_set
    from spade_studio.project import export_psd, load_ora, project_from_map, save_ora

    src = Path(args.source)
    extra = [Path(p) for p in (args.render, args.reference) if p]
    for p in [src] + extra:
        if not p.exists():
            raise CLIError(f"{p}: no such file")
        if _special_kind(p) or p.is_dir():
            raise CLIError(f"{p}: {_special_kind(p) or 'a folder'}, not an image or .ora file")
    out = Path(args.output)
    if out.is_dir() or not out.suffix or _special_kind(out):  # a folder (made when missing): OUT/MAP.ora
        out = output_target(out, src.stem + ".ora", (".ora", ".psd"))
    if out.suffix.lower() not in (".ora", ".psd"):
        raise CLIError(f"-o {out}: give an .ora (OpenRaster project) or a .psd (Photoshop) file")
    _refuse_overwriting_inputs(out, [src] + extra, [])
    label_set = load_label_set(args.label_set) if args.label_set else None
    if src.suffix.lower() == ".ora":
        project = load_ora(src, label_set)
    else:
        if label_set is None:
            try:
                lf = read_label_map(src, None)
            except LabelError:
                raise CLIError(f"{src}: a colour label image: give --label-set NAME_OR_JSON "
                               f"(the palette its colours come from)") from None
            from spade_studio.labels import builtin_label_set_names

            named = lf.label_set_name
            name = named if named and named.lower() in builtin_label_set_names() else "landscape"
            if not named:
                print(f"note: {src} names no label set: using 'landscape' (give --label-set)", file=sys.stderr)
            elif name != named:  # a name from the file is only ever a built-in one (never a path)
                print(f"note: {src} names label set {named[:80]!r}, which is not built in: using 'landscape' "
                      f"(give --label-set)", file=sys.stderr)
            label_set = load_label_set(name)
        else:
            lf = read_label_map(src, label_set)
        project = project_from_map(lf.ids, label_set, name=src.stem)
    h, w = project.shape
    for attr, path in (("render", args.render), ("reference", args.reference)):
        if path:
            rgb = read_rgb(path)
            if rgb.shape[:2] != (h, w):
                from .raster import resize_rgb

                print(f"note: {path}: {rgb.shape[1]}x{rgb.shape[0]} resized to the map's {w}x{h}", file=sys.stderr)
                rgb = resize_rgb(rgb, w, h)
            setattr(project, attr, rgb)
    if out.suffix.lower() == ".psd":
        export_psd(out, project)
    else:
        save_ora(out, project)
    parts = [f"{len(project.layers)} label layer(s)"] + [a for a in ("render", "reference") if getattr(project, a) is not None]
    print(f"{out}: {w}x{h}, {', '.join(parts)}, label set {project.label_set.name}")
    return 0


# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from spade_studio import __version__

    p = argparse.ArgumentParser(prog="spade-studio-cli", description="SPADE Studio, headless.")
    p.add_argument("--version", action="version", version=f"spade-studio {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser("render", help="render label maps to images")
    r.add_argument("labels", nargs="+", metavar="LABEL", help="label map PNG(s): ids, or colours of the model's palette")
    r.add_argument("-o", "--output", required=True, help="output file (one image) or folder (several)")
    r.add_argument("--model", help="model: .safetensors, official checkpoint folder or .pth (default: bundled)")
    r.add_argument("--dataset", choices=["coco", "ade20k", "cityscapes", "facades", "custom"],
                   help="dataset of a bare official .pth (default: inferred)")
    r.add_argument("--instance", nargs="+", metavar="INST", help="instance maps, one per label map")
    r.add_argument("--style", metavar="IMG", help="style image (models with an encoder)")
    r.add_argument("--seed", type=int, help="style seed (VAE models; default 0)")
    r.add_argument("--style-for", action="append", default=[], metavar="LABEL=IMG",
                   help="a style for one label's region (repeatable; LABEL a name or id; IMG an image file, "
                        "preset:NAME or seed:N); the rest keeps --style / --seed")
    r.add_argument("--variations", type=int, default=1, metavar="K", help="K variations per map")
    r.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    r.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                   help="fp32 (exact, default) or bf16 (about 2x faster where the CPU/GPU has it; auto picks it there)")
    r.add_argument("--quality", default="exact", choices=["exact", "preview"],
                   help="exact (the network's own result, fast path; default) or preview (faster, "
                        "reduced precision where the hardware has it: max difference 0.06)")
    r.add_argument("--plain", action="store_true",
                   help="run the plain network instead of the fast exact path (slower; for comparison)")
    r.add_argument("--tile", default="auto", type=_tile_arg, metavar="auto|off|N",
                   help="auto (default): one go when the canvas fits in memory, else overlapping tiles "
                        "blended without seams; N: tiles of N px (a multiple of the model's stride); "
                        "off: one go or refuse")
    r.add_argument("--wrap", action="store_true",
                   help="360-degree panorama: the render wraps horizontally (left and right edges match)")
    r.set_defaults(func=cmd_render)

    c = sub.add_parser("convert", help="official checkpoint folder or .pth -> SPADE Studio .safetensors")
    c.add_argument("source", help="official folder (latest_net_G.pth, opt.txt, ...) or .pth")
    c.add_argument("-o", "--output", required=True, help="output .safetensors file")
    c.add_argument("--dataset", choices=["coco", "ade20k", "cityscapes", "facades", "custom"])
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("info", help="describe a model")
    i.add_argument("model", nargs="?", help="model file, official folder or .pth (default: bundled)")
    i.add_argument("--dataset", choices=["coco", "ade20k", "cityscapes", "facades", "custom"])
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_info)

    e = sub.add_parser("export-layers", help="label map or .ora -> layered .ora (Krita, GIMP) or .psd (Photoshop)")
    e.add_argument("source", metavar="MAP_OR_ORA", help="label map PNG (one layer) or an .ora project")
    e.add_argument("-o", "--output", required=True, help="OUT.ora or OUT.psd (the suffix chooses the format)")
    e.add_argument("--render", metavar="IMG", help="a render to include as the top image layer")
    e.add_argument("--reference", metavar="IMG", help="a reference photo to include (hidden layer)")
    e.add_argument("--label-set", metavar="NAME", help="label set (built-in name or JSON file) of the map's "
                   "ids/colours; an .ora from another program needs it")
    e.set_defaults(func=cmd_export_layers)


    from trainer.cli import add_commands  # data and training commands (the trainer package)

    add_commands(sub)
    return p


def _known_errors() -> tuple[type[BaseException], ...]:
    from spade_studio.imageio import ImageReadError
    from spade_studio.labels import LabelError
    from spade_studio.model.config import ConfigError
    from spade_studio.model.official import CheckpointError
    from trainer.loop import TrainError

    return (CLIError, TrainError, CheckpointError, LabelError, ImageReadError, ConfigError, OSError, RuntimeError, ValueError)


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "DefaultCPUAllocator" in text
                                              or "CUDA out of memory" in text)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is printed, not an error
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
    parser = build_parser()
    args = parser.parse_args(argv)
    from spade_studio.model.allocator import keep_large_allocations

    keep_large_allocations()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("SPADE_STUDIO_DEBUG"):
            raise
        known = isinstance(exc, _known_errors())
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if _out_of_memory(exc):  # torch's allocator text says nothing a user can act on
            maps = [str(p) for p in getattr(args, "labels", None) or []] or \
                [str(p) for p in [getattr(args, "source", None)] if isinstance(p, str)]
            where = f"{maps[0]}: " if len(maps) == 1 else ""
            print(f"error: {where}out of memory while running {args.command} (the process could not allocate "
                  f"more; a memory limit such as ulimit -v or a container's may apply): free memory"
                  + (", or render in smaller tiles (--tile N)" if args.command == "render" else ""), file=sys.stderr)
            return 1
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
            msg = f"{exc.filename}: {exc.strerror or msg}"
        print(f"error: {msg}" if known else f"error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
