"""Turn Markdown, HTML and plain text into structured blocks (heading path, kind, text).

HTML is first rewritten to Markdown-like lines (``h2`` → ``##``, ``li`` → ``-``, ``dt``/``dd`` and
``details``/``summary`` → ``Q:``/``A:``), so one parser follows every format's structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_QUESTION = re.compile(r"^\s*(?:\*\*)?(?:Q|Question)\s*[:.]\s*(.+?)(?:\*\*)?\s*$", re.IGNORECASE)
_ANSWER = re.compile(r"^\s*(?:\*\*)?(?:A|Answer)\s*[:.](?:\*\*)?\s*(.*)$", re.IGNORECASE)
_BOLD_QUESTION = re.compile(r"^\s*\*\*(.+\?)\*\*\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_INLINE = re.compile(r"(\*\*|__|`)")


@dataclass(slots=True)
class Block:
    """One structural unit of a document."""

    heading_path: tuple[str, ...]
    kind: str
    """``paragraph``, ``list``, ``table`` or ``faq``."""
    text: str
    question: str | None = None
    section: int = 0
    """Counts headings seen before the block: two sections with the same heading path stay apart."""


@dataclass(slots=True)
class Parsed:
    """A parsed document: its title, declared url (front matter / canonical link) and blocks."""

    title: str | None
    url: str | None
    blocks: list[Block] = field(default_factory=list)


def clean_inline(text: str) -> str:
    """Drop Markdown inline markup (links keep their text)."""
    return _INLINE.sub("", _LINK.sub(r"\1", text)).strip()


def table_to_lines(rows: list[str]) -> str:
    """A table as one self-contained line per row: ``- Standard: Delivery time 3–5 days; Price $6.95``.

    The first row is taken as the header; a two-column table reads ``- Monday: 9:00 am – 5:00 pm``.
    """
    cells = [[clean_inline(c) for c in r.strip().strip("|").split("|")] for r in rows
             if not re.fullmatch(r"[\s|:-]+", r)]
    if len(cells) < 2:
        return "\n".join(" ".join(c) for c in cells)
    header, body = cells[0], cells[1:]
    lines = []
    for row in body:
        if len(row) == 2:
            lines.append(f"- {row[0]}: {row[1]}")
        else:
            rest = "; ".join(f"{h} {v}" if h else v for h, v in zip(header[1:], row[1:], strict=False))
            lines.append(f"- {row[0]}: {rest}")
    return "\n".join(lines)


def text_to_markdown(source: str) -> str:
    """Plain text with Markdown headings: the first short line is the title, short lines that stand alone
    before a paragraph (no closing punctuation) are section headings."""
    lines = source.splitlines()
    out: list[str] = []
    titled = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        before_blank = i == 0 or not lines[i - 1].strip() or not titled
        after = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if not titled and stripped and len(stripped) <= 80 and stripped[-1] not in ".!?:;,":
            out.extend(("# " + stripped, ""))
            titled = True
            continue
        if (stripped and len(stripped) <= 70 and before_blank and after and stripped[0].isupper()
                and stripped[-1] not in ".!?:;,)" and not _QUESTION.match(stripped) and not _ANSWER.match(stripped)
                and not _LIST_ITEM.match(stripped)):
            out.extend((("## " if titled else "# ") + stripped, ""))
            titled = True
            continue
        if stripped:
            titled = True
        out.append(line)
    return "\n".join(out)


def _front_matter(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    if not lines or lines[0].strip() != "---":
        return {}, lines
    for end in range(1, min(len(lines), 50)):
        if lines[end].strip() == "---":
            meta = {}
            for line in lines[1:end]:
                key, sep, value = line.partition(":")
                if sep:
                    meta[key.strip().lower()] = value.strip().strip("\"'")
            return meta, lines[end + 1:]
    return {}, lines


def parse_markdown(source: str) -> Parsed:
    """Parse Markdown (or plain text, which is Markdown without markup) into blocks."""
    meta, lines = _front_matter(source.splitlines())
    parsed = Parsed(meta.get("title"), meta.get("url"))
    stack: list[tuple[int, str]] = []
    paragraph: list[str] = []
    faq: Block | None = None
    sections = 0

    def path() -> tuple[str, ...]:
        return tuple(h for _, h in stack)

    def flush() -> None:
        nonlocal paragraph
        if not paragraph:
            return
        text = "\n".join(paragraph).strip()
        paragraph = []
        if not text:
            return
        if faq is not None:
            faq.text = f"{faq.text}\n{text}".strip()
            return
        rows = text.splitlines()
        if all(r.lstrip().startswith("|") for r in rows):
            parsed.blocks.append(Block(path(), "table", table_to_lines(rows), section=sections))
        elif all(_LIST_ITEM.match(r) or r.startswith(("  ", "\t")) for r in rows[1:]) and _LIST_ITEM.match(rows[-1]):
            parsed.blocks.append(Block(path(), "list", text, section=sections))
        else:
            parsed.blocks.append(Block(path(), "paragraph", text, section=sections))

    def close_faq() -> None:
        nonlocal faq
        flush()
        if faq is not None and faq.text:
            parsed.blocks.append(faq)
        faq = None

    fence = False
    for raw in lines:
        line = raw.rstrip()
        if line.strip().startswith("```"):
            fence = not fence
            continue
        heading = None if fence else _HEADING.match(line)
        if heading:
            close_faq()
            sections += 1
            level, title = len(heading.group(1)), clean_inline(heading.group(2))
            while stack and stack[-1][0] >= level:
                stack.pop()
            if title.endswith("?") and level > 1:
                faq = Block(path(), "faq", "", question=title, section=sections)
            stack.append((level, title))
            if parsed.title is None and level == 1:
                parsed.title = title
            continue
        if not fence and re.fullmatch(r"\s*(?:-{3,}|\*{3,}|_{3,})\s*", line):
            close_faq()
            continue
        question = None if fence else (_QUESTION.match(line) or _BOLD_QUESTION.match(line))
        if question:
            close_faq()
            if stack and stack[-1][1].endswith("?"):
                stack.pop()
            faq = Block(path(), "faq", "", question=clean_inline(question.group(1)), section=sections)
            continue
        answer = _ANSWER.match(line) if faq is not None and not faq.text and not paragraph else None
        if answer:
            line = answer.group(1)
            if not line:
                continue
        if not line.strip():
            flush()
            continue
        if _LIST_ITEM.match(line) and paragraph and not _LIST_ITEM.match(paragraph[-1]) \
                and not paragraph[-1].rstrip().endswith(":") and not paragraph[-1].startswith(("  ", "\t")):
            flush()
        paragraph.append(clean_inline(line) if not line.lstrip().startswith("|") else line.strip())
    close_faq()
    return parsed


_BLOCK_TAGS = {"p", "div", "section", "article", "br", "tr", "table", "ul", "ol", "dl", "blockquote", "main"}
_SKIP_TAGS = {"script", "style", "nav", "head", "noscript", "svg", "template", "form", "button"}


class _HTMLToMarkdown(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.line: list[str] = []
        self.skip = 0
        self.title: str | None = None
        self.url: str | None = None
        self._in_title = False
        self._cells: list[str] | None = None

    def _newline(self, prefix: str = "") -> None:
        text = " ".join("".join(self.line).split())
        if text:
            self.out.append(text)
        self.line = [prefix] if prefix else []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "title":
            self._in_title = True
        if tag == "link" and values.get("rel") == "canonical":
            self.url = values.get("href")
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        if re.fullmatch(r"h[1-6]", tag):
            self._newline()
            self.out.append("")
            self.line = ["#" * int(tag[1]) + " "]
        elif tag in ("dt", "summary"):
            self._newline()
            self.out.append("")
            self.line = ["Q: "]
        elif tag == "dd":
            self._newline("A: ")
        elif tag == "li":
            self._newline("- ")
        elif tag == "tr":
            self._newline()
            self._cells = []
        elif tag in ("td", "th") and self._cells is not None:
            self.line = []
        elif tag == "hr":
            self._newline()
            self.out.extend(("", "---", ""))
        elif tag in _BLOCK_TAGS:
            self._newline()
            if tag in ("p", "ul", "ol", "table", "section", "div"):
                self.out.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if tag in ("td", "th") and self._cells is not None:
            self._cells.append(" ".join("".join(self.line).split()))
            self.line = []
        elif tag == "tr" and self._cells is not None:
            self.out.append("| " + " | ".join(self._cells) + " |")
            self._cells = None
        elif re.fullmatch(r"h[1-6]", tag) or tag in ("dt", "summary", "dd", "li", "p", "table", "ul", "ol"):
            self._newline()
            if tag in ("p", "table", "ul", "ol") or tag.startswith("h"):
                self.out.append("")
        if tag in ("details", "dd", "dl"):
            self._newline()
            self.out.extend(("", "---", ""))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        if not self.skip:
            self.line.append(data)


def parse_html(source: str) -> Parsed:
    """Parse HTML into blocks (headings, paragraphs, lists, definition lists and tables keep their structure)."""
    converter = _HTMLToMarkdown()
    converter.feed(source)
    converter.close()
    converter._newline()
    parsed = parse_markdown("\n".join(converter.out))
    parsed.title = converter.title or parsed.title
    parsed.url = converter.url
    return parsed


def parse(source: str, suffix: str) -> Parsed:
    """Parse ``source`` by file suffix (``.md``/``.markdown``, ``.html``/``.htm``, ``.txt``)."""
    if suffix in (".html", ".htm"):
        return parse_html(source)
    if suffix == ".txt":
        return parse_markdown(text_to_markdown(source))
    return parse_markdown(source)
