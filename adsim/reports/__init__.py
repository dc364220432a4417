"""Typed reports: dataclasses with `to_json()` (report.json), `to_frame()` (a polars view) and their
Markdown; drawn as HTML and plots by `render`."""
