"""`adsim replay`, `adsim calibrate` and `adsim fixture`: the bring-your-own-data commands (adsim.cli)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from adsim import api
from adsim.cli_args import add_config_args, command_config


def cmd_replay(args: argparse.Namespace) -> None:
    from adsim.realdata.replay_settings import ReplaySettings, parse_embeddings
    from adsim.reports.replay_report import replay_markdown
    config = command_config(args)
    features = () if args.log_features == "none" else tuple(f for f in args.log_features.split(",") if f)
    settings = ReplaySettings(ranker=config.ranker, seed=config.seed, seeds=args.seeds, n_boot=args.boot,
                              category=args.category, split=args.split, negatives=args.negatives,
                              log_features=features, event_len=args.event_len, ablation=args.ablation)
    start = time.perf_counter()
    report = api.run_replay(args.data, args.format, parse_embeddings(args.embeddings), args.out, settings)
    print(replay_markdown(report))
    print(f"replay finished in {time.perf_counter() - start:.0f}s -> {Path(args.out) / 'report.json'}")


def cmd_prepare(args: argparse.Namespace) -> None:
    """What replay and calibrate do first, alone: a log encoded, de-duplicated, sorted and parted."""
    from adsim.datasets.log_table import prepare
    from adsim.realdata.replay import log_source
    from adsim.realdata.replay_settings import ReplaySettings
    settings = ReplaySettings(category=args.category, split=args.split, negatives=args.negatives)
    start = time.perf_counter()
    log = prepare(log_source(args.data, args.format, settings), Path(args.out), command_config(args).seed)
    print(f"prepared {log.n_rows:,} impressions of {log.size('user') - 1:,} users in {len(log.parts())} parts"
          + (f", {log.events:,} behaviour events" if log.events is not None else "")
          + f" in {time.perf_counter() - start:.0f}s -> {args.out}")


def cmd_validate_replay(args: argparse.Namespace) -> None:
    from adsim.realdata.replay_coverage import run_replay_coverage
    from adsim.realdata.replay_settings import ReplayCoverageSettings, ReplaySettings
    config = command_config(args)
    settings = ReplayCoverageSettings(draws=args.draws, users=args.users, per_draw=args.per_draw, seed_pool=args.seed_pool,
                                      replay=ReplaySettings(ranker=config.ranker, seed=config.seed, seeds=args.seeds, n_boot=args.boot))
    report = run_replay_coverage(args.out, settings)
    print("\n".join(report.lines()))
    print(f"-> {Path(args.out) / 'replay_coverage.json'}")


def add_validate_replay(val: argparse._SubParsersAction) -> None:
    from adsim.realdata.replay_settings import ReplayCoverageSettings
    d = ReplayCoverageSettings()
    p = val.add_parser("replay", help="replay's interval coverage: a fixture with known P(click), fresh held-out users "
                       "and clicks per draw; the share of AUC-difference CIs covering the expected-AUC truth")
    add_config_args(p)
    p.add_argument("--out", "-o", required=True, help="output folder (fixture, prepared log, replay_coverage.json)")
    p.add_argument("--draws", type=int, default=d.draws, help="draws of held-out users and clicks")
    p.add_argument("--users", type=int, default=d.users, help="the fixture's users (the held-out population)")
    p.add_argument("--per-draw", type=int, default=d.per_draw, help="held-out users per draw")
    p.add_argument("--seed-pool", type=int, default=d.seed_pool, help="rankers trained per arm, from which each draw picks --seeds")
    p.add_argument("--seeds", type=int, default=d.replay.seeds, help="training seeds per ranker in each draw (as replay --seeds)")
    p.add_argument("--boot", type=int, default=d.replay.n_boot, help="bootstrap resamples of the held-out users")
    p.set_defaults(func=cmd_validate_replay)


def cmd_export(args: argparse.Namespace) -> None:
    from adsim.datasets import taobao
    from adsim.datasets.log_table import prepare
    from adsim.realdata.fuxictr_export import export_fuxictr
    out = Path(args.out)
    log = prepare(taobao.log_source(args.data), out / "prepared", command_config(args).seed)
    rows = export_fuxictr(log, out, max_len=args.max_len)
    print(f"wrote {rows['train']:,} training and {rows['test']:,} test rows for FuxiCTR to {out}: train.csv, test.csv, "
          "dataset_config.yaml, model_config.yaml")


def cmd_calibrate(args: argparse.Namespace) -> None:
    from adsim.realdata.calibrate import run_calibrate
    from adsim.reports.calibration_report import calibration_markdown
    start = time.perf_counter()
    order = args.slot_order.split(",") if args.slot_order else None
    report = run_calibrate(args.data, args.format, command_config(args), args.out, slot_order=order)
    print(calibration_markdown(report))
    print(f"calibrated in {time.perf_counter() - start:.0f}s -> {report.config_path}, {Path(args.out) / 'calibration.png'}")


def cmd_fixture(args: argparse.Namespace) -> None:
    out = api.write_fixture(args.format, args.out, signal=args.signal, seed=args.seed, gzip=args.gzip, size=args.size)
    names = sorted(p.name for p in Path(out).iterdir() if p.is_file())
    what = "query set" if args.format == "query-set" else f"{args.format} log with signal={args.signal}"
    print(f"wrote a {what} to {out}: {', '.join(names)}")


def _add_amazon_args(p: argparse.ArgumentParser, defaults) -> None:
    """How an Amazon log becomes impressions (replay and prepare read it alike)."""
    p.add_argument("--category", default=None, help="amazon: the category of <Category>.jsonl (default: the one present)")
    p.add_argument("--split", default=defaults.split, choices=("leave-last-out", "timestamp"), help="amazon: the held-out split")
    p.add_argument("--negatives", type=int, default=defaults.negatives, help="amazon: sampled unclicked items per review")


def add_data(sub: argparse._SubParsersAction) -> None:
    from adsim.datasets.fixtures import FIXTURE_FORMATS, SIGNALS, SIZES
    from adsim.realdata.replay_settings import FORMATS, LOG_FEATURES, ReplaySettings
    defaults = ReplaySettings()
    p = sub.add_parser("replay", help="train the ranker on a real log with and without content embeddings; AUC, gAUC "
                       "and log-loss on the held-out split with intervals")
    add_config_args(p)
    p.add_argument("--data", required=True, help="folder of the log's files")
    p.add_argument("--format", required=True, choices=FORMATS, help="the log's format")
    p.add_argument("--embeddings", action="append", default=[], metavar="[NAME=]PATH",
                   help="Parquet with item_id (the dataset's ids) and embedding columns (repeatable)")
    p.add_argument("--out", "-o", required=True, help="run folder (prepared log, report.json/.md)")
    p.add_argument("--seeds", type=int, default=defaults.seeds, help="training seeds per ranker (their spread enters the CI)")
    p.add_argument("--boot", type=int, default=defaults.n_boot, help="bootstrap resamples of the held-out users")
    _add_amazon_args(p, defaults)
    p.add_argument("--log-features", default=",".join(defaults.log_features), metavar="LIST",
                   help="what the rankers read besides ids and clicks, where the log has it: a comma list of "
                        f"{', '.join(LOG_FEATURES)}, or none")
    p.add_argument("--event-len", type=int, default=defaults.event_len, help="behaviour events per impression the ranker attends over")
    p.add_argument("--ablation", action="store_true", help="also train the base ranker without each log feature, and "
                   "without the behaviour log's two (events, affinity) together")
    p.set_defaults(func=cmd_replay, bounds={"event_len": (1, 1000)})
    p = sub.add_parser("prepare", help="what replay and calibrate do first, alone: a log encoded, de-duplicated, sorted "
                       "and written in parts of whole users (to check a download, or to time it)")
    add_config_args(p)
    p.add_argument("--data", required=True, help="folder of the log's files")
    p.add_argument("--format", required=True, choices=FORMATS, help="the log's format")
    p.add_argument("--out", "-o", required=True, help="output folder (the prepared log)")
    _add_amazon_args(p, defaults)
    p.set_defaults(func=cmd_prepare)
    p = sub.add_parser("calibrate", help="fit the world's knobs a real log identifies (CTR level, position decay, "
                       "activity tail, sequence length, prices); write a TOML and compare its world with the log")
    add_config_args(p)
    p.add_argument("--data", required=True, help="folder of the log's files")
    p.add_argument("--format", required=True, choices=FORMATS, help="the log's format")
    p.add_argument("--out", "-o", required=True, help="run folder (calibrated.toml, report.json/.md, calibration.png)")
    p.add_argument("--slot-order", default=None, metavar="PID,PID,...",
                   help="the slots (Taobao pids) from the most to the least examined (default: their sort order)")
    p.set_defaults(func=cmd_calibrate)
    p = sub.add_parser("export", help="a Taobao log, prepared as replay prepares it, in FuxiCTR's format (BARS's "
                       "TaobaoAd_x1 columns and DIN config), to train the field's reference DIN on replay's split")
    add_config_args(p)
    p.add_argument("--data", required=True, help="folder of the Taobao log's files (with behavior_log)")
    p.add_argument("--out", "-o", required=True, help="output folder (prepared log, train.csv, test.csv, the configs)")
    p.add_argument("--max-len", type=int, default=50, help="behaviour events per row in the sequences")
    p.set_defaults(func=cmd_export, bounds={"max_len": (1, 1000)})
    p = sub.add_parser("fixture", help="write a small log in a public format with a known click model (for trying replay)")
    p.add_argument("--format", required=True, choices=FIXTURE_FORMATS,
                   help="a log (taobao, amazon) or a query set with item and query embeddings (query-set)")
    p.add_argument("--out", "-o", required=True, help="output folder")
    p.add_argument("--signal", default="embeddings", choices=SIGNALS, help="whether clicks follow the embeddings' signal")
    p.add_argument("--seed", type=int, default=0, help="seed of the fixture's draws")
    p.add_argument("--gzip", action="store_true", help="write the files gzipped")
    p.add_argument("--size", default="small", choices=tuple(SIZES), help="small (seconds), or full: a Taobao log of the "
                   "real dump's shape, 26 M impressions and about 110 M behaviour events (about 10 GB of CSV)")
    p.set_defaults(func=cmd_fixture)
