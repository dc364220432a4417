"""The `adsim` command line. Errors a user can cause print one line and exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from adsim import __version__, api
from adsim.cli_args import MAX_IMAGE_SIZE, HelpfulParser, add_config_args, check_out, command_config
from adsim.cli_data import add_data, add_validate_replay
from adsim.cli_encoder import add_encoder
from adsim.core.errors import AdsimError
from adsim.core.vocab import MODALITIES, N_MODALITIES


def cmd_world(args: argparse.Namespace) -> None:
    config = command_config(args)
    start = time.perf_counter()
    world = api.build_world(config)
    built = time.perf_counter() - start
    out = api.save_world(world, args.out, config)
    hist_len = np.bincount(world.history.user_id, minlength=config.world.n_users)
    mix = np.bincount(world.requests.modality, minlength=N_MODALITIES) / len(world.requests.modality)
    print(f"world seed={config.seed} config_hash={config.hash()} built in {built:.1f}s -> {out}")
    for name, rows in world.sizes().items():
        print(f"  {name:<12}{rows:>10,d} rows")
    print(f"  behaviour sequence length: median {np.median(hist_len):.0f}, max {hist_len.max()}")
    print(f"  past clicks on the shopper's target: {world.history.target_click_share():.1%} (the rest are exposure-biased)")
    print("  query modality: " + ", ".join(f"{m} {s:.0%}" for m, s in zip(MODALITIES, mix)))


def cmd_images(args: argparse.Namespace) -> None:
    from adsim.world.gallery import save_contact_sheet
    out = save_contact_sheet(api.build_world(command_config(args)), args.out, n_items=args.n_items, size=args.size)
    print(f"wrote {out}: columns are items; rows are catalogue views 0-3, then two shoppers' photos")


def cmd_demo(args: argparse.Namespace) -> None:
    """World, a trained MOON encoder (cached), an A/B against its pre-trained incumbent, an exchange-rate sweep, the HTML report."""
    config = command_config(args)
    start = time.perf_counter()
    report = api.run_demo(config, args.out)
    print()
    print(report.summary)
    print(f"demo finished in {time.perf_counter() - start:.0f}s -> {Path(args.out) / 'report.html'}")


def cmd_ab(args: argparse.Namespace) -> None:
    config = command_config(args)
    start = time.perf_counter()
    api.run_ab(config, args.out, replicates=args.replicates, workers=args.workers)
    print((Path(args.out) / "report.md").read_text())
    print(f"A/B finished in {time.perf_counter() - start:.1f}s -> {args.out}/report.json")


def cmd_exchange_rate(args: argparse.Namespace) -> None:
    config = command_config(args)
    from adsim.reports.exchange_report import rate_text
    start = time.perf_counter()
    report = api.run_exchange_rate(config, args.out, replicates=args.replicates, retrain=args.retrain, encoders=args.encoders)
    best = report.best
    if best:
        print(f"best predictor of {report.primary}: {best.intermediate}: " + rate_text(best.intermediate, report.primary, best))
    print(f"exchange rates in {time.perf_counter() - start:.0f}s -> {args.out}/report.html")


def cmd_predict(args: argparse.Namespace) -> None:
    from adsim.studies.predict import parse_change
    changes = dict(parse_change(c) for c in args.changes)
    if not changes:
        raise AdsimError("give at least one change, e.g. --set image_search_recall@10=+3")
    for p in api.predict_lift(args.sweep_dir, changes, args.downstream or None, args.level):
        print(p.text())


def cmd_scaling(args: argparse.Namespace) -> None:
    config = command_config(args)
    start = time.perf_counter()
    report = api.run_scaling(config, args.out)
    for m, f in report.fits.items():
        print(f"{m}: " + (f"{f.a:.4g}·x^{f.b:.3g} + {f.c:.4g} (R² {f.r2:.3f})" if f.ok else "did not converge"))
    print(f"scaling study in {time.perf_counter() - start:.0f}s -> {args.out}/report.html")


def cmd_aa(args: argparse.Namespace) -> None:
    config = command_config(args)
    for line in api.run_aa(config, args.out, n=args.n, alpha=args.alpha, replicates=args.replicates,
                           workers=args.workers).lines():
        print(line)


def cmd_validate_coverage(args: argparse.Namespace) -> None:
    report = api.lift_coverage(command_config(args), args.out, n_draws=args.draws, truth_factor=args.truth_factor)
    print("\n".join(report.lines()))
    print(f"-> {Path(args.out) / 'coverage.json'}")


def cmd_validate_exchange(args: argparse.Namespace) -> None:
    report = api.exchange_coverage(command_config(args), args.out, n_replicates=args.replicates, truth_factor=args.truth_factor)
    print("\n".join(report.lines()))
    print(f"-> {Path(args.out) / 'exchange_coverage.json'}")


def cmd_validate_estimators(args: argparse.Namespace) -> None:
    from adsim.stats.rate_simulation import SweepModel, grade_estimators, grade_lines
    model = SweepModel(n_variants=args.variants, metric_noise=args.metric_noise)
    print("\n".join(grade_lines(model, grade_estimators(model, args.sweeps, args.seed), args.sweeps)))


def cmd_bench(args: argparse.Namespace) -> None:
    if args.scale:
        api.run_scale_benchmark(command_config(args), args.out, factors=tuple(args.factors))
    else:
        api.run_benchmark(command_config(args), args.out)
    print(f"wrote {Path(args.out) / 'report.json'}")


def cmd_config(args: argparse.Namespace) -> None:
    print(json.dumps(command_config(args).to_dict(), indent=2))


def _add_aa_args(p: argparse.ArgumentParser, replicates: int) -> None:
    p.add_argument("--n", type=int, default=20, help="number of A/A simulations")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of each test")
    p.add_argument("--replicates", type=int, default=replicates, help="replicates per simulation; > 1 is the full "
                   "pipeline (twins trained from other seeds, judged by the combined CI), 1 the click-noise A/A")
    p.add_argument("--workers", type=int, default=1, help="ranks this process starts to share the replicates' work (as under torchrun)")


def _add_validate(sub) -> None:
    """`adsim validate coverage|aa`: coverage studies of the intervals."""
    val = sub.add_parser("validate", help="coverage studies of the intervals adsim reports").add_subparsers(
        dest="validate_command", required=True)
    p = val.add_parser("coverage", help="lift coverage: one pair of trained systems over many traffic draws; the share of "
                       "95 %% CIs covering the true (expected-click) lift")
    add_config_args(p)
    p.add_argument("--out", "-o", required=True, help="output folder (day 0, coverage.json)")
    p.add_argument("--draws", type=int, default=100, help="traffic draws tested")
    p.add_argument("--truth-factor", type=int, default=10, help="the truth is measured on this many further draws")
    p.set_defaults(func=cmd_validate_coverage)
    p = val.add_parser("exchange", help="exchange-rate coverage: replicate sweeps (drawn families re-drawn), each graded against the others pooled")
    add_config_args(p)
    p.add_argument("--out", "-o", required=True, help="output folder (truth and replicate sweeps, exchange_coverage.json)")
    p.add_argument("--replicates", type=int, default=20, help="replicate sweeps")
    p.add_argument("--truth-factor", type=int, default=0, help="also grade against the first replicate's variants on "
                   "this many times the traffic (default: %(default)s, none; the truth is the other replicates pooled)")
    p.set_defaults(func=cmd_validate_exchange)
    p = val.add_parser("estimators", help="the exchange-rate estimators on simulated sweeps whose slope is known: bias, "
                       "standard error against spread, CI coverage (seconds; no world)")
    p.add_argument("--sweeps", type=int, default=200, help="simulated sweeps (default: %(default)s)")
    p.add_argument("--variants", type=int, default=12, help="variants per sweep (default: %(default)s)")
    p.add_argument("--metric-noise", type=float, default=1.5, help="sd of the intermediate metric's noise, points "
                   "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated sweeps")
    p.set_defaults(func=cmd_validate_estimators)
    add_validate_replay(val)
    p = val.add_parser("aa", help="the full-pipeline A/A: twins trained from other seeds, independent clicks, each judged "
                       "by the combined CI over its replicates")
    add_config_args(p)
    p.add_argument("--out", "-o", required=True, help="output folder (one run per simulation, aa.json)")
    _add_aa_args(p, replicates=3)
    p.set_defaults(func=cmd_aa)


def build_parser() -> argparse.ArgumentParser:
    parser = HelpfulParser(prog="adsim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"adsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)  # subcommands are HelpfulParsers too

    def command(name: str, func, help: str, out_help: str | None = None, out_default: str | None = None):
        p = sub.add_parser(name, help=help)
        add_config_args(p)
        if out_help:
            p.add_argument("--out", "-o", required=out_default is None, default=out_default, help=out_help)
        p.set_defaults(func=func)
        return p

    command("world", cmd_world, "build the synthetic world and write it as Parquet", "output folder")
    p = command("images", cmd_images, "save a PNG contact sheet of rendered products and photos", "output PNG path")
    p.add_argument("--n-items", type=int, default=12, help="items (columns) on the sheet (1 to 256)")
    p.add_argument("--size", type=int, default=64, help=f"pixels per image (8 to {MAX_IMAGE_SIZE})")
    p.set_defaults(out_is_file=True, out_kind="PNG", bounds={"size": (8, MAX_IMAGE_SIZE), "n_items": (1, 256)})
    p = command("ab", cmd_ab, "offline A/B: bootstrap day 0, train each arm, serve day 1, report lifts",
                "run folder (arms, logs, report.json/.md/.html)")
    p.add_argument("--replicates", type=int, default=1, help="re-run on the same world with everything the arms do not "
                   "control re-drawn; the report combines them (default 1: a single run)")
    p.add_argument("--workers", type=int, default=1, help="ranks this process starts to share the replicates' work (as under torchrun)")
    p = command("exchange-rate", cmd_exchange_rate, "sweep embedding variants against the control; fit downstream lift "
                "per point of each intermediate metric (then `adsim exchange-rate predict`)",
                "run folder (arms, logs, report.json/.md/.html, plots)")
    p.add_argument("--replicates", type=int, default=1, help="sweep replicates (re-drawing what the arms do not control); "
                   "the rates fit their averaged points and carry their spread")
    p.add_argument("--retrain", action="store_true", help="with --replicates: each replicate trains the sweep's MOON "
                   "encoders again (training seed + r), so the components' combined lifts carry the training seed")
    p.add_argument("--encoders", default=None, help="cache folder of trained encoders (default OUT/encoders); "
                   "share it with `adsim encoder compare --encoders` to train each encoder once")
    p = sub.add_parser("predict", prog="adsim exchange-rate predict", help="a new model's expected lift from its change of an intermediate metric, with a "
                       "prediction interval, from a finished sweep (also `adsim exchange-rate predict`)")
    p.add_argument("--from", dest="sweep_dir", required=True, help="folder of a finished `adsim exchange-rate` run")
    p.add_argument("--set", dest="changes", action="append", default=[], metavar="METRIC=CHANGE",
                   help="change of an intermediate metric over the control, in points for rates (repeatable)")
    p.add_argument("--downstream", action="append", default=[], help="downstream metric(s) (default: every fitted one)")
    p.add_argument("--level", type=float, default=0.95, help="the prediction interval's coverage")
    p.set_defaults(func=cmd_predict)
    command("scaling", cmd_scaling, "scaling study along the config's [scaling] axis, with power-law fits",
            "run folder (encoders, arms, logs, report.json/.md/.html, plots)")
    p = command("aa", cmd_aa, "A/A runs: identical arms, independent click streams; false-positive rate of the CIs",
                "output folder (one run per simulation, aa.json)")
    _add_aa_args(p, replicates=1)
    _add_validate(sub)
    p = command("bench", cmd_bench, "serving throughput end to end and per stage, for several catalogue sizes",
                "output folder for report.json")
    p.add_argument("--scale", action="store_true", help="cost growth instead: world building, serving and peak RSS "
                   "with items, users and requests each multiplied by --factors (log-log plots, fitted exponents)")
    p.add_argument("--factors", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0], help="size multipliers (--scale)")
    command("demo", cmd_demo, "the demo: world, MOON encoder (cached), A/B, exchange-rate sweep, HTML report",
            "output folder (default logs/demo)", out_default="logs/demo")
    command("config", cmd_config, "print the validated config (defaults filled in)")
    add_encoder(sub)
    add_data(sub)
    return parser


def _join_ranks() -> None:
    """Under torchrun (WORLD_SIZE > 1): join the process group; only rank 0 prints its progress."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from adsim.core.runtime import dist
        if not dist.init_from_env().main:
            sys.stdout = open(os.devnull, "w")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["exchange-rate", "predict"]:  # the sweep's own verb for `adsim predict`
        argv = ["predict", *argv[2:]]
    args = build_parser().parse_args(argv)
    try:
        check_out(args)
        _join_ranks()
        args.func(args)
    except AdsimError as err:
        print(f"adsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("adsim: interrupted", file=sys.stderr)
        return 130
    finally:
        if "adsim.core.runtime.dist" in sys.modules:
            sys.modules["adsim.core.runtime.dist"].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
