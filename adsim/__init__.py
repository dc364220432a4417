"""adsim: an offline simulator of a staged search-advertising system.

The package root exposes the public API (adsim.api): `load_config`, `build_world`, `load_world`,
`save_world`, `run_ab`, `run_exchange_rate`, `predict_lift`, `run_scaling`, `run_aa`,
`lift_coverage`, `exchange_coverage`, `run_benchmark`, `encoder_metrics`, `compare_encoders`, `run_demo`, `run_replay`,
`write_fixture`. They are imported on first use, so
`import adsim` stays light and changes nothing.
"""

__version__ = "0.1.0"

__all__ = ["load_config", "build_world", "load_world", "save_world", "run_ab", "run_exchange_rate", "predict_lift",
           "run_scaling", "run_aa", "lift_coverage", "exchange_coverage", "run_benchmark", "encoder_metrics", "compare_encoders", "run_demo",
           "run_replay", "write_fixture"]


def __getattr__(name: str):
    if name in __all__:
        from adsim import api
        return getattr(api, name)
    raise AttributeError(f"module 'adsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
