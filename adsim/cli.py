"""The `adsim` command line. Errors a user can cause print one line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from adsim.config import MODALITIES, load_config
from adsim.errors import AdsimError


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=None, help="experiment TOML (default: built-in demo config)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set world.n_items=5000 (repeatable)")


def cmd_world(args: argparse.Namespace) -> None:
    from adsim.world import build_world, save_world
    config = load_config(args.config, args.overrides)
    start = time.perf_counter()
    world = build_world(config)
    built = time.perf_counter() - start
    out = save_world(world, args.out)
    hist_len = np.bincount(world.history.user_id, minlength=config.world.n_users)
    mix = np.bincount(world.requests.modality, minlength=3) / len(world.requests.modality)
    print(f"world seed={config.seed} config_hash={config.hash()} built in {built:.1f}s -> {out}")
    for name, rows in world.sizes().items():
        print(f"  {name:<12}{rows:>10,d} rows")
    print(f"  behaviour sequence length: median {np.median(hist_len):.0f}, max {hist_len.max()}")
    print("  query modality: " + ", ".join(f"{m} {s:.0%}" for m, s in zip(MODALITIES, mix)))


def cmd_images(args: argparse.Namespace) -> None:
    from adsim.gallery import save_contact_sheet
    from adsim.world import build_world
    config = load_config(args.config, args.overrides)
    out = save_contact_sheet(build_world(config), args.out, n_items=args.n_items, size=args.size)
    print(f"wrote {out}: columns are items; rows are catalogue views 0-3, then two shoppers' photos")


def cmd_demo(args: argparse.Namespace) -> None:
    """What exists so far end to end: the demo world, its tables and a contact sheet."""
    from adsim.gallery import save_contact_sheet
    from adsim.world import load_world
    out = Path(args.out)
    args.out = str(out / "world")
    cmd_world(args)
    sheet = save_contact_sheet(load_world(out / "world"), out / "products.png")
    print(f"contact sheet: {sheet}")


def cmd_ab(args: argparse.Namespace) -> None:
    config = load_config(args.config, args.overrides)  # before the heavy imports: bad config fails fast
    from adsim.ab import run_ab
    start = time.perf_counter()
    run_ab(config, args.out)
    print((Path(args.out) / "report.md").read_text())
    print(f"A/B finished in {time.perf_counter() - start:.1f}s -> {args.out}/report.json")


def cmd_bench(args: argparse.Namespace) -> None:
    config = load_config(args.config, args.overrides)
    from adsim.bench import bench
    bench(config, args.out)
    print(f"wrote {Path(args.out) / 'report.json'}")


def cmd_config(args: argparse.Namespace) -> None:
    config = load_config(args.config, args.overrides)
    print(json.dumps(config.to_dict(), indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adsim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str, out_help: str | None = None, out_default: str | None = None):
        p = sub.add_parser(name, help=help)
        _add_config_args(p)
        if out_help:
            p.add_argument("--out", "-o", required=out_default is None, default=out_default, help=out_help)
        p.set_defaults(func=func)
        return p

    command("world", cmd_world, "build the synthetic world and write it as Parquet", "output folder")
    p = command("images", cmd_images, "save a PNG contact sheet of rendered products and photos", "output PNG path")
    p.add_argument("--n-items", type=int, default=12)
    p.add_argument("--size", type=int, default=64, help="pixels per image")
    command("ab", cmd_ab, "offline A/B: bootstrap day 0, train each arm, serve day 1, report lifts",
            "run folder (logs, report.json, report.md)")
    command("bench", cmd_bench, "serving throughput end to end and per stage, for several catalogue sizes",
            "output folder for report.json")
    command("demo", cmd_demo, "run the demo: build the demo world and show what it looks like",
            "output folder (default logs/demo)", out_default="logs/demo")
    command("config", cmd_config, "print the validated config (defaults filled in)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AdsimError as err:
        print(f"adsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("adsim: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
