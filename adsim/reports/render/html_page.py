"""Reports as standalone HTML: the report's own Markdown (headings, paragraphs, tables, images)
rendered by a small converter, so report.md and report.html always say the same thing. Images are
embedded (a copied report.html still shows them) and wide tables scroll inside a laptop's window."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
.wide{overflow-x:auto;max-width:100%}table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}td{text-align:right}td:first-child{text-align:left}img{max-width:560px;margin:4px}
code{background:#f3f3f3;padding:1px 3px}"""


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _image_src(src: str, folder: Path | None) -> str:
    """A PNG beside the report as a data URI, so that the page stands on its own; else the link."""
    path = folder / src if folder is not None and not re.match(r"[a-z]+:", src) else None
    if path is not None and path.suffix.lower() == ".png" and path.is_file():
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return src


def markdown_to_html(md: str, title: str, folder: Path | None = None) -> str:
    """The page for Markdown `md`; `folder`: where its relative image links point (embedded from there)."""
    out, lines, i = [], md.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            header = _cells(line)
            i += 2  # skip the alignment row
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(lines[i])) + "</tr>")
                i += 1
            out.append("<div class='wide'><table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in header) + "</tr>"
                       + "".join(rows) + "</table></div>")
            continue
        elif m := re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", line.strip()):
            out.append(f'<img alt="{html.escape(m.group(1))}" src="{html.escape(_image_src(m.group(2), folder))}">')
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    body = "\n".join(out)
    return f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
