"""Parsing and chunking follow the documents' structure."""

from __future__ import annotations

from bot.knowledge.chunking import chunk_document
from bot.knowledge.parsing import parse
from bot.knowledge.text import numbers, split_sentences

MARKDOWN = """---
url: https://help.example/returns
---
# Returns

We accept most returns.

## Window

You can return within 30 days:
- sofas and chairs
- lamps

| Item | Days |
|---|---|
| Mattress | 100 |

## FAQ

### Can I return sale items?
Yes, within 14 days.

**Q: Do you refund shipping?**
A: No, except for damaged items.
"""


def test_markdown_blocks_keep_headings_lists_tables_and_faq_pairs() -> None:
    """Headings build the path; a list keeps its lead-in; tables become rows; FAQ pairs are recognized."""
    parsed = parse(MARKDOWN, ".md")
    assert parsed.title == "Returns"
    assert parsed.url == "https://help.example/returns"
    kinds = [(b.heading_path, b.kind) for b in parsed.blocks]
    assert kinds == [(("Returns",), "paragraph"), (("Returns", "Window"), "list"), (("Returns", "Window"), "table"),
                     (("Returns", "FAQ"), "faq"), (("Returns", "FAQ"), "faq")]
    assert parsed.blocks[1].text.startswith("You can return within 30 days:\n- sofas")
    assert parsed.blocks[2].text == "- Mattress: 100"
    assert [b.question for b in parsed.blocks[3:]] == ["Can I return sale items?", "Do you refund shipping?"]
    assert parsed.blocks[4].text == "No, except for damaged items."


def test_html_structure_is_kept_and_navigation_dropped() -> None:
    """HTML headings, definition lists and details become FAQ pairs; nav and script text is dropped."""
    html = """<html><head><title>Clinic</title><script>var x = 1;</script></head><body>
    <nav>Home › Clinic</nav><h1>Clinic hours</h1><p>Open <b>Monday</b> to Friday.</p>
    <h2>FAQ</h2><dl><dt>Is there parking?</dt><dd>Yes, 2 hours free.</dd></dl>
    <details><summary>Is it accessible?</summary><p>Yes, step-free.</p></details>
    <table><tr><th>Day</th><th>Hours</th></tr><tr><td>Saturday</td><td>9-13</td></tr></table></body></html>"""
    parsed = parse(html, ".html")
    text = " ".join(b.text for b in parsed.blocks)
    assert parsed.title == "Clinic"
    assert "var x" not in text and "Home" not in text
    faqs = {b.question: b.text for b in parsed.blocks if b.kind == "faq"}
    assert faqs == {"Is there parking?": "Yes, 2 hours free.", "Is it accessible?": "Yes, step-free."}
    assert any(b.kind == "table" and b.text == "- Saturday: 9-13" for b in parsed.blocks)


def test_plain_text_title_and_section_headings_are_detected() -> None:
    """In a .txt file the first short line is the title and short standalone lines are section headings."""
    parsed = parse("Leather care\n\nIntro text here.\n\nConditioning\nUse conditioner every 6 months.\n", ".txt")
    assert parsed.title == "Leather care"
    assert [b.heading_path for b in parsed.blocks] == [("Leather care",), ("Leather care", "Conditioning")]


def test_long_list_is_split_with_its_lead_in_repeated() -> None:
    """A list longer than the chunk size is split between items and each piece repeats the lead-in line."""
    items = "\n".join(f"- item number {i} with some words to make it longer" for i in range(12))
    parsed = parse(f"# Doc\n\nPlease bring:\n{items}\n", ".md")
    chunks = chunk_document(parsed, doc_id="doc", source_path="doc.md", title="Doc", max_chars=250)
    assert len(chunks) > 2
    assert all(c.text.startswith("Please bring:") for c in chunks)
    assert all(len(c.text) <= 250 for c in chunks)


def test_faq_chunks_are_one_pair_each_with_unique_anchors() -> None:
    """Every FAQ pair is its own chunk, anchored on its question; repeated headings get distinct anchors."""
    parsed = parse("# A\n\n## FAQ\n\n### Why?\nBecause.\n\n## FAQ\n\n### Why?\nStill because.\n", ".md")
    chunks = chunk_document(parsed, doc_id="a", source_path="a.md", title="A", max_chars=500)
    assert [c.kind for c in chunks] == ["faq", "faq"]
    assert [c.anchor for c in chunks] == ["why", "why-1"]
    assert chunks[0].text == "Why?\nBecause."


def test_sentences_and_numbers() -> None:
    """Sentence splitting respects abbreviations; numbers are extracted for the grounding check."""
    assert split_sentences("Open 9 a.m. to 5 p.m. daily. Closed Sundays.") == [
        "Open 9 a.m. to 5 p.m. daily.", "Closed Sundays."]
    assert numbers("Pay $1,499 within 30 days, at 9:30") == {"1499", "30", "9:30"}
