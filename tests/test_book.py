"""make run's book: a page per notebook that reads offline, titled and linked in order."""

import re

import nbformat
import nbformat.v4

from tools.build_book import build


def test_the_book_reads_offline_with_titles_links_and_the_live_charts_stand_ins(executed, tmp_path):
    for name in ("01_sync_loop.ipynb", "04_keyword_wrapper.ipynb"):
        nbformat.write(executed(name), tmp_path / name)
    # 01 links to 03 in its text; a page with only a title stands in for 03 here.
    stand_in = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 03 · The event loop")])
    nbformat.write(stand_in, tmp_path / "03_event_loop.ipynb")
    first, second, _ = build(tmp_path)
    page = first.read_text(encoding="utf-8")
    # Nothing loaded from elsewhere: no script, style or frame from a CDN.
    assert re.findall(r"<(?:script|link|iframe)[^>]+(?:src|href)=[\"']https?://", page) == []
    assert "application/vnd.jupyter.widget-view+json" not in page and "widget-state" not in page
    # The live chart's stand-in: the chart first drawn, as an image, with its caption.
    assert "the live chart shows" in page
    assert page.count("<img") == sum(
        "image/png" in output.get("data", {})
        for cell in nbformat.read(tmp_path / "01_sync_loop.ipynb", as_version=4).cells if cell.cell_type == "code"
        for output in cell.outputs
    )
    # Titled for its notebook, with links to the next page and the contents.
    assert "<title>01 · The sync loop: twenty requests, one after another</title>" in page
    assert f'href="{second.name}" rel="next"' in page and 'href="index.html"' in page
    assert f'href="{first.name}" rel="prev"' in second.read_text(encoding="utf-8")
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "`" not in index and index.count("<li>") == 3
    # A link in the text to another notebook leads to its page: 01 points to 03.
    assert 'href="03_event_loop.ipynb' not in page and 'href="03_event_loop.html"' in page


def test_a_link_to_the_glossary_leads_to_a_page_of_the_book(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# 01 · A page\n\nSee [the glossary](../docs/glossary.md).")])
    nbformat.write(notebook, tmp_path / "01_a.ipynb")
    (page,) = build(tmp_path)
    body = page.read_text(encoding="utf-8")
    assert "../docs/" not in body and 'href="glossary.html"' in body
    glossary = (tmp_path / "glossary.html").read_text(encoding="utf-8")
    assert "<table>" in glossary and 'href="index.html"' in glossary
