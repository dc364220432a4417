"""adsim: an offline simulator of a staged search-advertising system."""

__version__ = "0.1.0"
