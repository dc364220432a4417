"""`adsim encoder train|eval|encode|compare`: the encoder commands of the command line (adsim.cli)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from adsim import api
from adsim.cli_args import add_config_args, command_config
from adsim.core.files import write_json


def train_stages(skip: list[str]) -> tuple[str, ...]:
    """The stages `encoder train` runs: all but the skipped (grpo runs only with reasoning = "grpo")."""
    from encoders.training.train import STAGES
    return tuple(s for s in STAGES if s not in skip)


def cmd_encoder_train(args: argparse.Namespace) -> None:
    config = command_config(args)
    if args.catalogue:
        return _train_on_catalogue(args, config)
    from adsim.runs.intermediate import provider_metrics
    from encoders.registry import make_provider
    from encoders.training.train import export_embeddings, train_encoder
    out = Path(args.out)
    world = api.build_world(config)
    start = time.perf_counter()
    stages = train_stages(args.skip)
    train_encoder(world.view, config.encoder_train, out, progress=not args.quiet, stages=stages, kind=args.kind)
    from adsim.core.runtime import dist
    if not dist.ranks().main:  # under torchrun the ranks trained together; rank 0 exports and reports
        return
    provider = make_provider(args.kind, {"path": str(out)}, world)
    export_embeddings(provider.model, provider.builder, out)
    metrics = provider_metrics(world, provider, seed=config.seed)
    report = {"encoder": args.kind, "path": str(out), "stages": list(stages),
              "train_seconds": time.perf_counter() - start, "metrics": metrics}
    print(format_metrics({args.kind: metrics}))
    reasoning = reasoning_report(provider, world, config.seed, args.kind)
    if reasoning:
        report["reasoning_accuracy"] = reasoning
    write_json(report, out / "report.json")
    print(f"trained in {report['train_seconds']:.0f}s -> {out}/model, embeddings and report.json")


def _train_on_catalogue(args: argparse.Namespace, config) -> None:
    """MOON-style pretraining (image-title alignment) on a team's own Amazon-format catalogue."""
    from adsim.realdata.catalogue_encode import amazon_catalogue, moon_item_embeddings
    from encoders.nets.tokenizer import load_tokenizer
    from encoders.training.train import train_encoder
    start, out = time.perf_counter(), Path(args.out)
    ids, view = amazon_catalogue(args.catalogue, args.category, args.images, config.world.image_size, config.seed)
    model = train_encoder(view, config.encoder_train, out, progress=not args.quiet, stages=("pretrain",), kind=args.kind)
    from adsim.core.runtime import dist
    if not dist.ranks().main:
        return
    moon_item_embeddings(model, load_tokenizer(out / "tokenizer"), view, ids, out / "item_embeddings.parquet")
    print(f"pretrained on {len(ids):,} items ({view.camera.missing_images:,} without a readable image) in "
          f"{time.perf_counter() - start:.0f}s -> {out}/model, {out}/item_embeddings.parquet")


def reasoning_report(provider, world, seed: int, name: str) -> dict | None:
    """A reasoning encoder's greedy tokens read against the listings (encoders.reasoning.evaluate),
    printed and returned for the report; None for an encoder that does not reason."""
    if not getattr(getattr(getattr(provider, "model", None), "config", None), "reasoning_slots", None):
        return None
    from encoders.reasoning.evaluate import accuracy_json, accuracy_lines, reasoning_accuracy
    acc = reasoning_accuracy(provider.model, provider.builder, world.view.items, seed)
    print("\n".join([f"{name}: reasoning tokens (greedy), share right:", *accuracy_lines(acc)]))
    return accuracy_json(acc)


def cmd_encoder_eval(args: argparse.Namespace) -> None:
    if args.queries:
        return _eval_bench(args)
    from adsim.runs.intermediate import provider_metrics
    config = command_config(args)
    arms = [args.arm] if args.arm else list(config.arms)
    world, providers = api.arm_providers(config, arms)
    results = {a: provider_metrics(world, p, seed=config.seed) for a, p in providers.items()}
    print(format_metrics(results))
    report = {"arms": {arm: {"encoder": config.arms[arm].encoder, "encoder_args": dict(config.arms[arm].encoder_args),
                             "metrics": m} for arm, m in results.items()}}
    for arm, provider in providers.items():
        reasoning = reasoning_report(provider, world, config.seed, arm)
        if reasoning:
            report["arms"][arm]["reasoning_accuracy"] = reasoning
    if len(arms) == 1:
        report["metrics"] = results[arms[0]]
    write_json(report, Path(args.out) / "report.json")


def _eval_bench(args: argparse.Namespace) -> None:
    """A team's own query set scored with its precomputed embeddings."""
    from adsim.core.errors import ConfigError
    from adsim.datasets.query_set import load_query_set
    from adsim.realdata.query_set_eval import evaluate_query_set
    if not (args.item_embeddings and args.query_embeddings):
        raise ConfigError("--queries needs --item-embeddings and --query-embeddings (Parquet, item_id / query_id and embedding)")
    query_set = load_query_set(args.queries)
    report = evaluate_query_set(query_set, str(args.queries), args.item_embeddings, args.query_embeddings, seed=command_config(args).seed)
    write_json(report.to_json(), Path(args.out) / "report.json")
    print("\n".join(report.lines()))


def cmd_encoder_encode(args: argparse.Namespace) -> None:
    """A real catalogue's (and query set's) text embeddings, keyed by the dataset's ids."""
    from adsim.datasets.query_set import load_query_set
    from adsim.realdata.catalogue_encode import encode_catalogue, encode_queries, text_encoder
    start = time.perf_counter()
    if args.encoder == "moon":
        return _encode_with_moon(args)
    query_set = load_query_set(args.queries) if args.queries else None  # a bad query set fails before any encoding
    encoder = text_encoder(args.encoder, args.path)
    n = encode_catalogue(args.data, args.format, args.out, encoder, args.category)
    print(f"embedded {n:,} items with {args.encoder} (dimension {encoder.dim}) -> {args.out}")
    if query_set is not None:
        target = args.queries_out or str(Path(args.out).with_name("query_embeddings.parquet"))
        print(f"embedded {encode_queries(query_set, target, encoder):,} queries -> {target}")
    print(f"in {time.perf_counter() - start:.0f}s")


def _encode_with_moon(args: argparse.Namespace) -> None:
    from adsim.core.errors import ConfigError, DataError
    from adsim.realdata.catalogue_encode import amazon_catalogue, moon_item_embeddings
    from encoders.trained import load_encoder
    if not args.path:
        raise ConfigError("--encoder moon needs --path (a folder of `adsim encoder train`)")
    if args.format != "amazon":
        raise DataError(f"a {args.format} catalogue has no titles or images to embed")
    model, tokenizer = load_encoder(args.path)
    ids, view = amazon_catalogue(args.data, args.category, args.images, model.config.image_size, 0)
    moon_item_embeddings(model, tokenizer, view, ids, args.out)
    print(f"embedded {len(ids):,} items with the encoder at {args.path} ({view.camera.missing_images:,} without an image) -> {args.out}")


def cmd_encoder_compare(args: argparse.Namespace) -> None:
    config = command_config(args)
    start = time.perf_counter()
    rows = tuple(r for r in args.rows.split(",") if r) if args.rows else None
    api.compare_encoders(config, args.out, seeds=args.seeds, encoders=args.encoders, rows=rows)
    print((Path(args.out) / "report.md").read_text())
    print(f"compared in {time.perf_counter() - start:.0f}s -> {args.out}/report.json")


def format_metrics(results: dict[str, dict[str, float]]) -> str:
    names = sorted({m for r in results.values() for m in r})
    width = max(len(n) for n in names)
    lines = [f"{'metric':<{width}} " + " ".join(f"{a:>12}" for a in results)]
    lines += [f"{n:<{width}} " + " ".join(f"{r.get(n, float('nan')):>12.4f}" for r in results.values()) for n in names]
    return "\n".join(lines)


def add_encoder(sub) -> None:
    """`adsim encoder train|eval|encode|compare`."""
    enc = sub.add_parser("encoder", help="train or evaluate embedding encoders").add_subparsers(dest="encoder_command", required=True)
    p = enc.add_parser("train", help="train an encoder (pretrain, post-train, export embeddings, intermediate metrics)")
    add_config_args(p)
    p.add_argument("--out", "-o", required=True, help="output folder (model, checkpoints, logs, embeddings)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--kind", choices=("moon", "clip"), default="moon", help="MOON-style encoder or the CLIP-style dual baseline")
    p.add_argument("--skip", action="append", default=[], choices=("pretrain", "posttrain", "grpo"), help="leave out a stage (ablations)")
    p.add_argument("--catalogue", default=None, help="train on this folder's own catalogue instead of the world "
                   "(Amazon Reviews 2023 metadata; image-title pretraining only)")
    p.add_argument("--format", default="amazon", choices=("amazon",), help="--catalogue: its format")
    p.add_argument("--category", default=None, help="--catalogue: the category of meta_<Category>.jsonl")
    p.add_argument("--images", default=None, help="--catalogue: the folder its image paths are under (default: the catalogue's)")
    p.set_defaults(func=cmd_encoder_train)
    p = enc.add_parser("eval", help="intermediate metrics of the config's arm encoders on held-out queries")
    add_config_args(p)
    p.add_argument("--out", "-o", required=True, help="output folder for report.json")
    p.add_argument("--arm", default=None, help="evaluate one arm only (default: every arm)")
    p.add_argument("--queries", default=None, help="a query set file (JSON lines or Parquet: query_id, query_text, "
                   "query_image, relevant_item_ids) to score instead of the world's queries")
    p.add_argument("--item-embeddings", default=None, help="--queries: Parquet with item_id and embedding")
    p.add_argument("--query-embeddings", default=None, help="--queries: Parquet with query_id and embedding")
    p.set_defaults(func=cmd_encoder_eval)
    p = enc.add_parser("encode", help="embed a real catalogue (Amazon Reviews 2023 metadata) and a query set "
                       "with a text encoder, keyed by the dataset's ids")
    p.add_argument("--data", required=True, help="folder of the catalogue's files")
    p.add_argument("--format", required=True, choices=("amazon", "taobao"), help="the catalogue's format")
    p.add_argument("--category", default=None, help="amazon: the category of meta_<Category>.jsonl (default: the one present)")
    p.add_argument("--encoder", default="minilm", choices=("minilm", "hf", "moon"),
                   help="all-MiniLM-L6-v2, a local Hugging Face checkpoint, or an encoder of `adsim encoder train`")
    p.add_argument("--path", default=None, help="--encoder hf or moon: the checkpoint or training folder")
    p.add_argument("--images", default=None, help="--encoder moon: the folder the catalogue's image paths are under")
    p.add_argument("--queries", default=None, help="also embed this query set's texts")
    p.add_argument("--queries-out", default=None, help="where the query embeddings go (default: beside --out)")
    p.add_argument("--out", "-o", required=True, help="the item embeddings' Parquet file")
    p.set_defaults(func=cmd_encoder_encode, out_is_file=True)
    p = enc.add_parser("compare", help="floor, MiniLM, CLIP, MOON (stage ablations), each MOON2.0/3.0 component "
                       "and its compute-matched control side by side")
    add_config_args(p)
    p.add_argument("--out", "-o", required=True, help="output folder (report.json, report.md)")
    p.add_argument("--seeds", type=int, default=1, help="training seeds per trained row (their spread enters the CIs)")
    p.add_argument("--encoders", default=None, help="cache folder of trained encoders (default OUT/encoders); "
                   "share it with `adsim exchange-rate --encoders` to train each encoder once")
    p.add_argument("--rows", default=None, help="comma-separated trained rows to include (default: all)")
    p.set_defaults(func=cmd_encoder_compare)
