"""What every command line of adsim shares: the config arguments and the validated config."""

from __future__ import annotations

import argparse

from adsim import api
from adsim.core.config import ExperimentConfig


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=None, help="experiment TOML (default: built-in demo config)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set world.n_items=5000 (repeatable)")


def command_config(args: argparse.Namespace) -> ExperimentConfig:
    """The validated config of a command, encoder arguments included (before any heavy import)."""
    return api.load_config(args.config, args.overrides)
