"""Turn the executed notebooks in a build folder into a book: one HTML page each, and an index.

`make run` executes every notebook into ``build/`` first; this script then renders each with
nbconvert's HTML exporter (charts embedded, so a page is a single file) and writes
``build/index.html``, linking the pages in the series' order with each notebook's title.

    python tools/build_book.py build
"""

from __future__ import annotations

import argparse
import html
import os
import platform
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

INDEX = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Async by timing</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem;
         line-height: 1.5; color: #222; }}
  li {{ margin: 0.6rem 0; }}
</style>
</head>
<body>
<h1>Async by timing</h1>
<p>Python asynchronous programming, taught by timing it: the notebooks of the series, executed
on {machine}, with their outputs and charts. Read them in order.</p>
<ol>
{items}
</ol>
</body>
</html>
"""


def title_of(notebook: nbformat.NotebookNode, fallback: str) -> str:
    """The notebook's first-level heading, which every notebook of the series starts with."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def build(folder: Path) -> list[Path]:
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no executed notebooks in {folder}: run `make run`, which executes them first")
    exporter = HTMLExporter()
    items, pages = [], []
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        body, _ = exporter.from_notebook_node(notebook)
        page = path.with_suffix(".html")
        page.write_text(body, encoding="utf-8")
        pages.append(page)
        title = html.escape(title_of(notebook, path.stem))
        items.append(f'<li><a href="{page.name}">{title}</a></li>')
    machine = html.escape(f"Python {platform.python_version()} with {os.cpu_count()} CPUs")
    (folder / "index.html").write_text(INDEX.format(machine=machine, items="\n".join(items)), encoding="utf-8")
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder holding the executed notebooks")
    pages = build(parser.parse_args().folder)
    print(f"wrote {len(pages)} pages and index.html")


if __name__ == "__main__":
    main()
