"""What every command line of adsim shares: the config arguments and the validated config, help
that shows defaults, and the check of --out before any work."""

from __future__ import annotations

import argparse
from pathlib import Path

from adsim import api
from adsim.core.config import ExperimentConfig
from adsim.core.errors import ConfigError


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=None, help="experiment TOML (default: built-in demo config)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set world.n_items=5000 (repeatable)")


def command_config(args: argparse.Namespace) -> ExperimentConfig:
    """The validated config of a command, encoder arguments included (before any heavy import)."""
    return api.load_config(args.config, args.overrides)


def no_default(action: argparse.Action) -> bool:
    """Whether an option has no default worth showing (required, unset, an empty list or a flag's False)."""
    d = action.default
    return action.required or d is None or d is False or d == [] or d is argparse.SUPPRESS


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that shows an option's default where it has a meaningful one and its text does not say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or no_default(action):
            return text
        return f"{text} (default: %(default)s)".lstrip()


class HelpfulParser(argparse.ArgumentParser):
    def __init__(self, *a, **kw):
        kw.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*a, **kw)


MAX_IMAGE_SIZE = 1024
MAGIC = {"PNG": b"\x89PNG"}  # the file kinds an --out file may overwrite, by their first bytes


def check_out(args: argparse.Namespace) -> None:
    """Refuse an unusable --out before any work: a folder argument naming a file (or under one), a
    file argument naming a folder, a file about to overwrite one of another kind; and sizes that
    cannot fit. A command declares what applies to it with `set_defaults`: `out_is_file`,
    `out_kind` (a key of MAGIC) and `bounds` (option -> (lowest, highest))."""
    for name, (low, high) in getattr(args, "bounds", {}).items():
        value = getattr(args, name)
        if value is not None and not low <= value <= high:
            raise ConfigError(f"--{name.replace('_', '-')} must be between {low} and {high}, got {value}")
    out = getattr(args, "out", None)
    if not out:
        return
    path = Path(out)
    blocking = next((a for a in [path, *path.parents] if a.exists() and not a.is_dir()), None)
    if getattr(args, "out_is_file", False):
        if path.is_dir():
            raise ConfigError(f"--out {out} is a folder; give a file path")
        if blocking is not None and blocking != path:
            raise ConfigError(f"--out {out}: {blocking} is a file, not a folder")
        kind = getattr(args, "out_kind", None)
        if kind and path.exists() and path.read_bytes()[:len(MAGIC[kind])] != MAGIC[kind]:
            raise ConfigError(f"--out {out} exists and is not a {kind}; refusing to overwrite it")
    elif blocking is not None:
        raise ConfigError(f"--out {out}: {blocking} is a file, not a folder; give a folder path")
