"""Turn the executed notebooks in a build folder into a book: one HTML page each, and an index.

`make run` executes every notebook into ``build/`` first; this script then renders each with
nbconvert's HTML exporter (charts embedded, so a page is a single file) and writes
``build/index.html``, linking the pages in the series' order with each notebook's title.

The book reads offline. nbconvert's pages load require.js, MathJax and the widget renderer
from public CDNs; the notebooks need none of them (no maths, and no widget can run without a
kernel anyway), so the template here leaves them out, and each live chart shows its stand-in:
the chart drawn for the parameter cell's values, kept beside the widget as a plain PNG.
Each page is titled for its notebook and links to the pages before and after it, and a link
in the text to another notebook of the series leads to that notebook's page. A link to a
document in ``docs/`` (the glossary) leads to a page of the book made from it, so that the
book still reads when ``build/`` is copied elsewhere.

    python -m tools.build_book build
"""

from __future__ import annotations

import argparse
import html
import os
import platform
import re
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

DOCS = Path(__file__).resolve().parent.parent / "docs"

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NAV = """<nav class="book-nav">{previous} <a href="index.html">contents</a> {next}</nav>"""
PAGE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{# Offline: nothing from a CDN. The notebooks have no maths, and their widgets have stand-ins. #}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block extra_css %}
<style>
  .book-nav { max-width: 60rem; margin: 1rem auto; font-family: system-ui, sans-serif; display: flex;
              justify-content: space-between; gap: 1rem; }
</style>
{% endblock extra_css %}
{%- block body_header -%}{{ super() }}{{ resources.book_nav }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.book_nav }}{{ super() }}{% endblock body_footer %}
"""
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
    """The notebook's first-level heading as plain text, which every notebook of the series starts with."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"`([^`]*)`", r"\1", line[2:]).strip()
    return fallback


def without_widgets(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with its widget views and widget state removed, so their stand-ins show.

    An output that was only a widget (a text line naming it, nothing else) is dropped.
    """
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if set(data) <= {"text/plain"}:
                    continue
            kept.append(output)
        cell.outputs = kept
    return notebook


def linked_to_pages(body: str, pages: list[Path]) -> str:
    """The page with its links to other notebooks of the series pointed at their pages instead."""
    for page in pages:
        body = body.replace(f'href="{page.stem}.ipynb', f'href="{page.name}')
    return body


DOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem;
         line-height: 1.5; color: #222; }}
  table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; }}
</style>
</head>
<body>
<p><a href="index.html">contents</a></p>
{body}
</body>
</html>
"""


def linked_to_docs(body: str, folder: Path) -> str:
    """The page with its links to ``docs/*.md`` pointed at pages of the book made from them."""
    for name in sorted(set(re.findall(r'href="\.\./docs/([\w-]+)\.md', body))):
        source = DOCS / f"{name}.md"
        if not source.exists():
            continue
        text = source.read_text(encoding="utf-8")
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), name)
        (folder / f"{name}.html").write_text(
            DOC_PAGE.format(title=html.escape(title), body=markdown2html_mistune(text)), encoding="utf-8")
        body = body.replace(f'href="../docs/{name}.md', f'href="{name}.html')
    return body


def link(page: Path | None, arrow: str, titles: dict[Path, str]) -> str:
    if page is None:
        return "<span></span>"
    text = f"{titles[page]} →" if arrow == "next" else f"← {titles[page]}"
    return f'<a href="{page.name}" rel="{arrow}">{html.escape(text)}</a>'


def build(folder: Path) -> list[Path]:
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise SystemExit(f"no executed notebooks in {folder}: run `make run`, which executes them first")
    notebooks = {path.with_suffix(".html"): nbformat.read(path, as_version=4) for path in paths}
    pages = list(notebooks)
    titles = {page: title_of(notebook, page.stem) for page, notebook in notebooks.items()}
    exporter = HTMLExporter(extra_loaders=[DictLoader({"book.html.j2": PAGE_TEMPLATE})], template_file="book.html.j2")
    for i, (page, notebook) in enumerate(notebooks.items()):
        nav = NAV.format(
            previous=link(pages[i - 1] if i > 0 else None, "prev", titles),
            next=link(pages[i + 1] if i + 1 < len(pages) else None, "next", titles),
        )
        body, _ = exporter.from_notebook_node(
            without_widgets(notebook), resources={"metadata": {"name": titles[page]}, "book_nav": nav},
        )
        page.write_text(linked_to_docs(linked_to_pages(body, pages), folder), encoding="utf-8")
    items = "\n".join(f'<li><a href="{page.name}">{html.escape(titles[page])}</a></li>' for page in pages)
    machine = html.escape(f"Python {platform.python_version()} with {os.cpu_count()} CPUs")
    (folder / "index.html").write_text(INDEX.format(machine=machine, items=items), encoding="utf-8")
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder holding the executed notebooks")
    pages = build(parser.parse_args().folder)
    print(f"wrote {len(pages)} pages and index.html")


if __name__ == "__main__":
    main()
