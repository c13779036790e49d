"""A response bundle as a person reads it: an HTML page and a PDF. Pure.

Both are drawn from the bundle document alone (the JSON is the record; these are its
readable forms). The HTML page is self-contained (no scripts, fonts or links to fetch),
rendered by Jinja2 with autoescaping, so nothing an item says can become markup. The
PDF uses fpdf2's core Helvetica, which holds Latin-1 only: text is mapped to it first
(curly quotes, dashes and ellipses to their plain forms, anything else without a Latin-1
form to '?'), and rows are laid out line by line with the font's own widths and drawn
as they come, so a response of 10,000 records is 10,000 small writes, never one string.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import jinja2
from fpdf import FPDF
from fpdf.fonts import CoreFont

from ledger.dsar import articles
from ledger.dsar.redaction import DEFAULT_REASON, DEFAULT_RULE

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ledger.dsar", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Characters people and services type that Latin-1 lacks, and what stands for them.
_LATIN1 = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u2022": "*",
        "\u20ac": "EUR",
        "\u2122": "(TM)",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
        "\r": " ",
        "\n": " ",
    }
)


def latin1(text: str) -> str:
    """``text`` in the core fonts' Latin-1: typographic marks as plain ones, '?' for
    the rest ('£' and accented letters are Latin-1 and stay)."""
    return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


def when(moment: str) -> str:
    """'3 March 2026' of an ISO time in the bundle."""
    return articles.day(datetime.fromisoformat(moment))


def entry_text(key: str, entry: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One line of a section's list, in plain English."""

    def name(code: Any) -> str:
        text = names.get(str(code), str(code))
        return text[:1].upper() + text[1:]

    count = f" ({articles.records(int(entry.get('items', 0)))})"
    if key == "copy":
        return f"{entry.get('title')}: {int(entry.get('items', 0)):,}"
    if key == "recipients":
        where = ""
        if entry.get("country"):
            where = f", outside the UK (country code {entry['country']})"
        if entry.get("international_organisation"):
            where += f", to {entry['international_organisation']}"
        return f"{name(entry.get('organisation'))}{where}{count}"
    if key == "source":
        return f"{name(entry.get('organisation'))}{count}"
    if key == "transfer-safeguards":
        return f"Country code {entry.get('country')}: {entry.get('text')}{count}"
    text = str(entry.get("text") or "")
    return f"{text[:1].upper()}{text[1:]}{count}"


def redaction_note(note: Mapping[str, Any], shown: Mapping[str, str]) -> str:
    """What the person is told about one third-party field of an item. A withholding by
    the default rule is explained once, in :func:`default_rule`, not on every row."""
    if note["decided_by"] == DEFAULT_RULE:
        return f"Withheld: {note['what']} (see 'Details withheld')."
    decided = f"Decided by officer {note['decided_by']} on {when(note['at'])}: {note['reason']}"
    if note["disclosed"]:
        return f"Shown: {note['what']} is {shown.get(note['field'], '')}. {decided}"
    return f"Withheld: {note['what']}. {decided}"


def default_rule(document: Mapping[str, Any]) -> list[str]:
    """The paragraphs that explain the default rule, if any record was withheld by it."""
    withheld = sum(
        note["decided_by"] == DEFAULT_RULE
        for item in document["items"]
        for note in item["redactions"]
    )
    if not withheld:
        return []
    return [
        f"Details withheld: in {articles.records(withheld)}, the identity of the official "
        f"or officer involved is withheld. {DEFAULT_REASON} This was our standard rule when "
        f"this response was made on {when(document['generated_at'])}; where an officer "
        "decided otherwise for a record, the record says who decided, when and why."
    ]


def _rows(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    names = document["organisations"]
    for item in document["items"]:
        name = names.get(item["organisation"], item["organisation"])
        yield {
            "date": when(item["occurred_at"]),
            "sentence": item["sentence"],
            "organisation": name[:1].upper() + name[1:],
            "position": item["position"],
            "notes": [redaction_note(n, item["third_parties"]) for n in item["redactions"]],
        }


def _sections(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    names = document["organisations"]
    withheld = default_rule(document)
    return [
        {
            "number": section["number"],
            "title": section["title"],
            "paragraphs": section["paragraphs"] + (withheld if section["key"] == "copy" else []),
            "entries": [entry_text(section["key"], e, names) for e in section["entries"]],
            "is_copy": section["key"] == "copy",
        }
        for section in document["sections"]
    ]


def _checking(document: Mapping[str, Any], sha256: str) -> list[str]:
    head = document["manifest"]["tree_head"]
    return [
        "Every record above is an event in a public, tamper-evident log. This response "
        "carries a proof for each one, and a signature by the log's key over the list "
        "of them, so you or anyone you trust can check that nothing was added, removed "
        "or changed.",
        "To check it, save the JSON file of this response and the log's public key "
        f"({head['key_name']}, key id {head['key_id']}), then run: "
        "ledger verify bundle response.json --key log.vkey",
        f"The SHA-256 of the JSON file is {sha256}; the log records it when the response "
        f"is sent. The records are proved against the log's tree of size "
        f"{head['tree_size']}, signed on {when(head['time'])}.",
    ]


def html(document: Mapping[str, Any], sha256: str) -> str:
    """The readable page: headings per Art. 15 item, the records newest first, the
    redaction notes, and how to check the bundle."""
    organisation = document["organisation"]
    return _ENV.get_template("response.html.j2").render(
        organisation=organisation,
        case=document["case"],
        received=when(document["case"]["received"] + "T12:00:00+00:00"),
        generated=when(document["generated_at"]),
        cut_off=document["cut_off"]["text"],
        sections=_sections(document),
        rows=_rows(document),
        checking=_checking(document, sha256),
    )


class _Page(FPDF):
    """A4 pages with a running title and page numbers."""

    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.running_title = title
        self.set_auto_page_break(False)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        self.set_font("Helvetica", size=8)
        self.text(15, 287, latin1(self.running_title))
        self.text(180, 287, f"Page {self.page_no()}")


class _Writer:
    """Lays out text line by line on a _Page, with the current font's widths."""

    TOP, BOTTOM, LEFT, WIDTH = 20.0, 278.0, 15.0, 180.0

    def __init__(self, pdf: _Page) -> None:
        self.pdf, self.y = pdf, self.TOP
        self._sizes: dict[tuple[str, float], dict[str, float]] = {}
        self._wrapped: dict[tuple[str, float, float, str], list[str]] = {}

    def font(self, size: float, style: str = "") -> float:
        self.pdf.set_font("Helvetica", style=style, size=size)
        return size * 0.45  # line height in mm

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` in lines no wider than ``width`` (mm), at the current font (the
        same list for the same text, which the caller only reads)."""
        font = self.pdf.current_font
        assert isinstance(font, CoreFont), "the PDF uses the core fonts only"
        # Cells repeat from row to row (dates, organisations): lay each out once.
        key = (font.fontkey, self.pdf.font_size_pt, width, text)
        lines = self._wrapped.get(key)
        if lines is None:
            lines = self._wrapped[key] = self._wrap(font, text, width)
        return lines

    def _wrap(self, font: CoreFont, text: str, width: float) -> list[str]:
        widths: Mapping[str, float] = font.cw  # every Latin-1 character
        scale = self.pdf.font_size_pt / 1000 / self.pdf.k
        # Words repeat from row to row (dates, names, purposes): measure each once.
        sizes = self._sizes.setdefault((font.fontkey, self.pdf.font_size_pt), {})
        space = widths[" "] * scale
        lines: list[str] = []
        line: list[str] = []
        used = 0.0
        for word in latin1(text).split(" "):
            size = sizes.get(word)
            if size is None:
                size = sizes[word] = sum(map(widths.__getitem__, word)) * scale
            if size > width:
                pieces = self._cut(word, width, widths, scale)
            else:  # the usual case, without a list of one piece
                if line and used + space + size > width:
                    lines.append(" ".join(line))
                    line, used = [], 0.0
                used += (space if line else 0.0) + size
                line.append(word)
                continue
            for piece, size in pieces:
                if line and used + space + size > width:
                    lines.append(" ".join(line))
                    line, used = [], 0.0
                used += (space if line else 0.0) + size
                line.append(piece)
        lines.append(" ".join(line))
        return lines

    @staticmethod
    def _cut(
        word: str, width: float, widths: Mapping[str, float], scale: float
    ) -> list[tuple[str, float]]:
        """A word wider than a line, cut into pieces that fit, with their widths."""
        pieces: list[tuple[str, float]] = []
        start, used = 0, 0.0
        for end, c in enumerate(word):
            if end > start and used + widths[c] * scale > width:
                pieces.append((word[start:end], used))
                start, used = end, 0.0
            used += widths[c] * scale
        pieces.append((word[start:], used))
        return pieces

    def room(self, height: float) -> bool:
        """Start a new page unless ``height`` fits; True if a page was started."""
        if self.y + height <= self.BOTTOM:
            return False
        self.pdf.add_page()
        self.y = self.TOP
        return True

    def paragraph(self, text: str, size: float = 10, style: str = "", indent: float = 0) -> None:
        height = self.font(size, style)
        for line in self.wrap(text, self.WIDTH - indent):
            if self.room(height):
                self.font(size, style)  # the page footer set its own
            self.pdf.text(self.LEFT + indent, self.y + height * 0.8, line)
            self.y += height
        self.y += height * 0.4

    def row(self, cells: Sequence[str], style: str = "", header: Sequence[str] = ()) -> None:
        """One table row (a cell per column of _TABLE), each wrapped, kept on one page;
        ``header`` is drawn first on each new page."""
        height = self.font(9, style)
        wrapped = [self.wrap(text, width) for (_, width), text in zip(_TABLE, cells, strict=True)]
        lines = max(len(cell) for cell in wrapped)
        if self.room(height * lines) and header:
            self.row(header, "B")
        self.font(9, style)
        for (x, _), cell in zip(_TABLE, wrapped, strict=True):
            for n, line in enumerate(cell):
                self.pdf.text(self.LEFT + x, self.y + height * (n + 0.8), line)
        self.y += height * lines + 1.2


# The records table: (x offset, width) of each column, in mm.
_TABLE = ((0.0, 24.0), (26.0, 118.0), (146.0, 34.0))
_HEADER = ("Date", "What happened", "Organisation")


def pdf(document: Mapping[str, Any], sha256: str) -> bytes:
    """The same content as :func:`html`, as a PDF drawn row by row."""
    organisation = document["organisation"]
    title = f"Your personal data: {organisation['name']}, request {document['case']['reference']}"
    page = _Page(title)
    page.add_page()
    out = _Writer(page)
    out.paragraph(title[:1].upper() + title[1:], size=16, style="B")
    out.paragraph(
        f"Request received on {when(document['case']['received'] + 'T12:00:00+00:00')}; "
        f"this response was made on {when(document['generated_at'])}. {document['cut_off']['text']}"
    )
    for section in _sections(document):
        out.y += 2
        out.paragraph(f"{section['number']}. {section['title']}", size=13, style="B")
        for text in section["paragraphs"]:
            out.paragraph(text)
        for text in section["entries"]:
            out.paragraph(f"- {text}", indent=4)
        if section["is_copy"]:
            _records(out, document)
    out.y += 2
    out.paragraph("How to check this response", size=13, style="B")
    for text in _checking(document, sha256):
        out.paragraph(text)
    return bytes(page.output())


def _records(out: _Writer, document: Mapping[str, Any]) -> None:
    out.row(_HEADER, "B")
    for row in _rows(document):
        text = " ".join([row["sentence"], *row["notes"], f"(Ledger position {row['position']}.)"])
        out.row((row["date"], text, row["organisation"]), header=_HEADER)
