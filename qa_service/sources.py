"""Reading one source file's bytes as text lines: plain text, Markdown, HTML, PDF and Word (.docx).

The kind comes from the content (:func:`sniff`), never from the name alone, so a PDF renamed
``.txt`` is read as a PDF and a picture renamed ``.pdf`` is refused. :func:`read_bytes` gives a
:class:`SourceText`: a title, paragraph-ish lines for :func:`qa_service.ingest.clean_lines`, and,
for PDFs, the page each line starts on. Every failure is an :class:`IngestError` of one line
naming the file; nothing a library raises gets out as a traceback.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Iterator

from .errors import IngestError
from .text import word_count
from .webpage import main_text

__all__ = [
    "KINDS",
    "MAX_PDF_PAGES",
    "MAX_TEXT_CHARS",
    "PrintedLine",
    "SourceText",
    "drop_repeated_edges",
    "join_hyphenated",
    "join_lines",
    "read_bytes",
    "sniff",
]

KINDS = ("text", "markdown", "html", "pdf", "docx")
MAX_PDF_PAGES = 2_000
MAX_TEXT_CHARS = 10_000_000  # about 5,000 pages of dense text; a bigger file is split by its owner
MAX_ZIP_ENTRIES = 2_000
MAX_ZIP_BYTES = 50 * 1024 * 1024  # inflated, all entries together
MAX_ZIP_RATIO = 100  # inflated / deflated, for an entry over 1 MiB: XML deflates 5-20x, zeros 1000x

_UNSUPPORTED = "not a PDF, Word (.docx), HTML, Markdown or text file"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceText:
    """A source as lines of text, with where each line sits in a paged original."""

    title: str  # from markup or metadata or the first heading; "" when none
    lines: list[str]
    kind: str  # one of KINDS
    pages: int | None = None  # pages of a PDF; None for unpaged kinds
    line_pages: list[int] = field(default_factory=list)  # 1-based page each line starts on; [] unpaged
    # (line, character offset in that line, page) where a later page begins inside a line: a
    # paragraph that runs on across a page break is one line, but its sentences keep their pages
    page_breaks: list[tuple[int, int, int]] = field(default_factory=list)
    # whether the lines may still hold page furniture (menus, share buttons) for the line rules to
    # drop; False once a main-text extractor has kept only the article (a web page)
    furniture: bool = True


# ---------------------------------------------------------------- what kind of file


def _suffix(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def sniff(data: bytes, name: str) -> str:
    """The kind of ``data`` from its content: the name's suffix only picks Markdown over text."""
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except Exception:  # a damaged archive: zipfile raises many kinds
            if _suffix(name) == ".docx":
                raise IngestError(f"{name}: a damaged or truncated Word (.docx) file") from None
            raise IngestError(f"{name}: {_UNSUPPORTED} (a damaged ZIP archive)") from None
        if "word/document.xml" in names:
            return "docx"
        raise IngestError(f"{name}: {_UNSUPPORTED} (a ZIP archive without word/document.xml)")
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise IngestError(f"{name}: an old Word (.doc) or Office file; save it as .docx or PDF")
    if not data.strip():
        raise IngestError(f"{name}: the file is empty")
    if b"\x00" in data:
        raise IngestError(f"{name}: {_UNSUPPORTED}")
    text = _decode(data, name)
    suffix = _suffix(name)
    if suffix in (".html", ".htm") or re.match(r"(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])",
                                                text.lstrip("\ufeff \t\r\n")[:2048], re.IGNORECASE | re.DOTALL):
        return "html"
    if suffix in (".md", ".markdown"):
        return "markdown"
    return "text"


def _decode(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: not valid UTF-8 (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_bytes(data: bytes, name: str) -> SourceText:
    """One file's bytes as lines of text; ``name`` (a file name or path) is used in messages."""
    kind = sniff(data, name)
    if kind == "pdf":
        return _read_pdf(data, name)
    if kind == "docx":
        return _read_docx(data, name)
    text = _decode(data, name)
    if kind == "html":  # the article's text only, by trafilatura (docs/webpages.md measures why)
        title, lines = main_text(text, name)
        return SourceText(title, lines, kind, furniture=False)
    if kind == "markdown":
        title, lines = _markdown_lines(text)
        return SourceText(title, lines, kind)
    return SourceText("", text.split("\n"), kind)


# ---------------------------------------------------------------- Markdown


_HEADING_RE = re.compile(r"\s{0,3}#{1,6}\s+(.*)")


def _heading_text(text: str) -> str:
    """A heading's text without its optional closing #s (done by hand: a regex for it backtracks)."""
    text = text.rstrip()
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1].isspace()):
        text = bare.rstrip()
    return text


def _markdown_lines(text: str) -> tuple[str, list[str]]:
    """Markdown as plain lines, and its first heading."""
    title = ""
    lines = []
    in_fence = False
    for line in text.split("\n"):
        if line.strip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        heading = _HEADING_RE.match(line)
        if heading and not in_fence:
            text_of_heading = _heading_text(heading.group(1))
            if not title:
                title = text_of_heading
                continue
            line = text_of_heading
        # Every pattern stops at the next bracket or marker, so no attempt scans the rest of the
        # line: a line of 16,000 " *a" took 13.5 s before.
        line = re.sub(r"!\[[^\][]*\]\([^()]*\)", "", line)  # images
        line = re.sub(r"\[([^\][]+)\]\([^()]*\)", r"\1", line)  # links keep their text
        line = re.sub(r"(\*\*|__|`)", "", line)
        line = re.sub(r"(?<!\w)\*(\S(?:[^*]*?\S)?)\*(?!\w)", r"\1", line)
        line = re.sub(r"(?<!\w)_(\S(?:[^_]*?\S)?)_(?!\w)", r"\1", line)
        line = re.sub(r"^\s{0,3}>\s?", "", line)
        lines.append(line)
    return title, lines


# ---------------------------------------------------------------- text rules for paged sources

_HYPHEN_END_RE = re.compile(r"([^\W\d_]+)-$")
_SENTENCE_END_RE = re.compile(r"[.!?…:][\"'”’)\]]*$")
_BULLET_RE = re.compile(r"^(?:[-*•–·▪◦]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s")


def _compound_kept(left: str, right: str) -> bool:
    """Whether ``left-right`` is a compound to keep hyphenated ("well-known", "follow-up"), not a
    word the line end split ("inter-national"): as one word it is rare in English (Zipf < 3),
    hyphenated it is common (Zipf >= 3). Words English does not know are joined."""
    from wordfreq import zipf_frequency  # a runtime dependency already; loaded only when needed

    return zipf_frequency(left + right, "en") < 3 <= zipf_frequency(f"{left}-{right}", "en")


def join_hyphenated(first: str, second: str) -> str:
    """Two lines of one paragraph as one: a word split at the line end is joined again.

    The rule: a lowercase letter, a hyphen ending the first line and a lowercase letter starting
    the second ("inter-" + "national") join without the hyphen, unless the joined word is rare in
    English and the hyphenated one common ("well-" + "known", "follow-" + "up" keep it). Anything else ("Covid-" +
    "19", "north-" + "West", "pre- and post-war") is joined with a space.
    """
    first, second = first.rstrip(), second.lstrip()
    if not first:
        return second
    if not second:
        return first
    end = _HYPHEN_END_RE.search(first[-64:]) if first.endswith("-") else None  # the tail: no scan of a long line
    if end and end.group(1)[-1].islower() and second[0].islower() and not first.endswith("--"):
        head = end.group(1)
        tail = re.match(r"[^\W\d_]+", second)
        if tail and _compound_kept(head, tail.group(0)):
            return first + second
        return first[:-1] + second
    return first + " " + second


def _edge_key(line: str) -> str:
    """A header or footer line as a key: digits normalised ("Page 3 of 20" = "Page 4 of 20")."""
    return re.sub(r"\d+", "#", " ".join(line.casefold().split()))


def drop_repeated_edges(pages: list[list[str]], edge: int = 2) -> list[list[str]]:
    """Pages without their running headers and footers.

    A line among the first or last ``edge`` lines of a page is furniture when, digits normalised,
    it is among the first or last lines of at least half the pages, and there are 3 pages or more
    (on fewer, one repetition proves nothing). A line that is only a page number ("7", "- 7 -",
    "Page 7") at the top or bottom of a page is furniture on any page.
    """
    removed = _edge_lines(pages, edge)
    return [[line for i, line in enumerate(lines) if i not in gone] for lines, gone in zip(pages, removed)]


def _edge_lines(pages: list[list[str]], edge: int = 2) -> list[set[int]]:
    """The indices, page by page, of the lines :func:`drop_repeated_edges` drops."""
    counts: dict[str, int] = {}
    for lines in pages:
        for key in {_edge_key(line) for line in _edges(lines, edge)}:
            counts[key] = counts.get(key, 0) + 1
    needed = max(2, (len(pages) + 1) // 2)
    repeated = {key for key, n in counts.items() if n >= needed} if len(pages) >= 3 else set()
    removed = []
    for lines in pages:
        top = set(range(min(edge, len(lines)))) | set(range(max(0, len(lines) - edge), len(lines)))
        removed.append({i for i in top if _edge_key(lines[i]) in repeated or _PAGE_NUMBER_RE.match(lines[i].strip())})
    return removed


_PAGE_NUMBER_RE = re.compile(r"^(?:page\s+)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)


def _edges(lines: list[str], edge: int) -> list[str]:
    return lines[:edge] + lines[max(edge, len(lines) - edge):]


@dataclass(frozen=True)
class PrintedLine:
    """A printed line of a PDF page: its text, baseline, left edge and font size."""

    text: str
    y: float
    x: float
    size: float
    page: int


def _starts_paragraph(prev: PrintedLine, line: PrintedLine, gap: float, leading: float, width: int, longest: int,
                      margin: float) -> bool:
    """Whether ``line`` opens a new paragraph after ``prev`` in the same column."""
    if gap > 1.25 * leading or gap < -0.5 * leading:  # space between paragraphs, or a jump back up
        return True
    if abs(line.size - prev.size) > 0.15 * max(line.size, prev.size):  # a heading and its text
        return True
    if _BULLET_RE.match(line.text):
        return True
    if line.x > margin + 1.5 * line.size and prev.x <= margin + 0.5 * line.size:  # first-line indent
        return True
    # running text fills the column: a line well short of it (a table row, a heading, a closing
    # line) ends its paragraph, and so does a sentence that ends before the right edge
    return len(prev.text) < 0.6 * longest or (bool(_SENTENCE_END_RE.search(prev.text)) and len(prev.text) < 0.8 * width)


def join_lines(lines: list[PrintedLine]) -> list[list[PrintedLine]]:
    """The printed lines of one column as paragraphs (lists of lines), in order.

    A paragraph ends at a vertical gap over 1.25 times the column's usual line spacing, a change of
    font size, a bullet, an indented first line, a line shorter than 60% of the column's longest,
    or a line that ends a sentence and is shorter than 80% of the column's usual line length
    (lengths in characters).
    """
    if not lines:
        return []
    gaps = [a.y - b.y for a, b in zip(lines, lines[1:]) if 0 < a.y - b.y < 3 * max(a.size, b.size)]
    leading = statistics.median(gaps) if gaps else 1.2 * statistics.median(line.size for line in lines)
    lengths = sorted(len(line.text) for line in lines)
    width = lengths[int(0.8 * (len(lengths) - 1))]
    margin = min(line.x for line in lines)
    paragraphs = [[lines[0]]]
    for prev, line in zip(lines, lines[1:]):
        if _starts_paragraph(prev, line, prev.y - line.y, leading, width, lengths[-1], margin):
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


# ---------------------------------------------------------------- PDF


class _RouteToDebug(logging.Handler):
    """pypdf logs how it repaired a damaged file; that is our debug output, not the user's stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        _log.debug("pypdf: %s", record.getMessage())


_pypdf_log = logging.getLogger("pypdf")
if not any(isinstance(h, _RouteToDebug) for h in _pypdf_log.handlers):
    _pypdf_log.addHandler(_RouteToDebug())
_pypdf_log.propagate = False


@dataclass(frozen=True)
class _Fragment:
    text: str
    x: float
    y: float
    size: float


def _page_fragments(page: Any) -> list[_Fragment]:
    """The text pieces of a page with their positions (pypdf's visitor, in page space)."""
    found: list[_Fragment] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text or not text.strip():
            return
        a = tm[0] * cm[0] + tm[1] * cm[2]
        c, d = tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3]
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = (c * c + d * d) ** 0.5 or abs(a) or 1.0
        height = float(size or 1.0) * scale
        for k, part in enumerate(text.split("\n")):  # rare: pypdf put a line break inside a piece
            if part.strip():
                found.append(_Fragment(" ".join(part.split()), x, y - k * 1.2 * height, height))

    page.extract_text(visitor_text=visit)
    return found


def _baselines(fragments: list[_Fragment]) -> list[list[_Fragment]]:
    """Fragments grouped by baseline, top to bottom, each group left to right."""
    rows: list[list[_Fragment]] = []
    for frag in sorted(fragments, key=lambda f: (-f.y, f.x)):
        if rows and abs(rows[-1][0].y - frag.y) <= 0.5 * min(rows[-1][0].size, frag.size):
            rows[-1].append(frag)
        else:
            rows.append([frag])
    for row in rows:
        row.sort(key=lambda f: f.x)
    return rows


def _rows(fragments: list[_Fragment], page: int) -> list[PrintedLine]:
    """Fragments on the same baseline as lines, top to bottom, each read left to right."""
    return [PrintedLine(" ".join(f.text for f in row), row[0].y, row[0].x, max(f.size for f in row), page)
            for row in _baselines(fragments)]


def _column_split(fragments: list[_Fragment], width: float) -> float | None:
    """The x where a second column starts, when the page clearly has two; else None.

    Two columns: many lines (5 or more, and 30% of them) have a piece starting at the same x
    (within a point) between 35% and 75% of the page width; so do 70% of the lines with text on
    both sides of it (a gutter, not words lining up by chance); and on those lines both sides
    hold running text (20 characters or more, in the median), which tells a column from a
    table's cells. Positions, not widths: pypdf does not say how wide a piece is.
    """
    rows = _baselines(fragments)
    if len(rows) < 5 or width <= 0:
        return None
    starts: dict[int, set[int]] = {}
    for number, row in enumerate(rows):
        for frag in row:
            if 0.35 * width <= frag.x <= 0.75 * width:
                starts.setdefault(round(frag.x), set()).add(number)
    if not starts:
        return None

    def aligned(x: int) -> set[int]:
        return starts.get(x - 1, set()) | starts.get(x, set()) | starts.get(x + 1, set())

    best = max(sorted(starts), key=lambda x: len(aligned(x)))
    lines = aligned(best)
    if len(lines) < max(5, 0.3 * len(rows)):
        return None
    split = best - 1.5
    # the text of each line on either side (a producer may place every word on its own)
    sides = [(len(" ".join(f.text for f in row if f.x < split)), len(" ".join(f.text for f in row if f.x >= split)))
             for row in rows]
    crossing = [n for n, (a, b) in enumerate(sides) if a and b]
    # a gutter: nearly every line with text on both sides starts its right part there; in one
    # column of words placed one by one, a few line up by chance
    if len([n for n in crossing if n in lines]) < max(5, 0.7 * len(crossing)):
        return None
    sides = [sides[n] for n in crossing if n in lines]
    if statistics.median(a for a, _ in sides) < 20 or statistics.median(b for _, b in sides) < 20:
        return None
    return split


def _page_lines(page: Any, number: int) -> list[PrintedLine]:
    """A page's printed lines in reading order: the left column, then the right one."""
    fragments = _page_fragments(page)
    try:
        box = page.mediabox
        width, left_edge = float(box.width), float(box.left)
    except Exception:  # a page without a usable box: read it as one column
        width, left_edge = 0.0, 0.0
    split = _column_split([_Fragment(f.text, f.x - left_edge, f.y, f.size) for f in fragments], width)
    if split is None:
        return _rows(fragments, number)
    split += left_edge
    # what spans the top of both columns (a title) is read first, then each column
    left = [f for f in fragments if f.x < split]
    right = [f for f in fragments if f.x >= split]
    top_of_right = max(f.y for f in right)
    above = [f for f in left if f.y > top_of_right + 0.5 * f.size]
    below = [f for f in left if f.y <= top_of_right + 0.5 * f.size]
    return _rows(above, number) + _rows(below, number) + _rows(right, number)


def _meaningful_title(value: Any) -> str:
    """The metadata title unless it is empty or a placeholder a program wrote (a file name, "untitled")."""
    if not isinstance(value, str):
        return ""
    title = " ".join(value.split())
    if sum(ch.isalpha() for ch in title) < 2:
        return ""
    if title.casefold().strip("()[] ") in {"untitled", "untitled document", "document", "title", "no title", "anonymous",
                                          "microsoft word document", "slide 1", "none", "unknown"}:
        return ""
    if re.search(r"\.(?:docx?|pdf|odt|rtf|txt|tex|dvi|ps|indd|pages|html?|xlsx?|pptx?)$", title, re.IGNORECASE) \
            or re.match(r"(?:microsoft (?:word|powerpoint) - |untitled-?\d*$)", title, re.IGNORECASE):
        return ""
    return title


def _open_pdf(data: bytes, name: str) -> Any:
    """A pypdf reader, decrypted with the empty password when the file is only owner-locked."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                raise IngestError(f"{name}: encrypted; remove the password and try again")
        return reader
    except IngestError:
        raise
    except DependencyError:
        raise IngestError(f"{name}: encrypted with AES, which needs the cryptography package "
                          "(pip install cryptography), or remove the password") from None
    except FileNotDecryptedError:
        raise IngestError(f"{name}: encrypted; remove the password and try again") from None
    except Exception as exc:  # any failure of the library on a bad file is the file's fault
        raise IngestError(f"{name}: a damaged or truncated PDF ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _read_pdf(data: bytes, name: str) -> SourceText:
    """A PDF's text layer as paragraphs with their pages, without running headers and footers."""
    from pypdf.errors import DependencyError, FileNotDecryptedError

    reader = _open_pdf(data, name)
    try:
        count = len(reader.pages)
    except Exception as exc:
        raise IngestError(f"{name}: a damaged or truncated PDF ({_reason(exc)})") from None
    if count > MAX_PDF_PAGES:
        raise IngestError(f"{name}: {count} pages, more than {MAX_PDF_PAGES}; split the file")
    pages: list[list[PrintedLine]] = []
    chars = failed = 0
    for number in range(1, count + 1):
        try:
            lines = _page_lines(reader.pages[number - 1], number)
        except DependencyError:
            raise IngestError(f"{name}: encrypted with AES, which needs the cryptography package "
                              "(pip install cryptography)") from None
        except FileNotDecryptedError:
            raise IngestError(f"{name}: encrypted; remove the password and try again") from None
        except Exception:  # a damaged page: keep the pages that can be read
            lines, failed = [], failed + 1
        chars += sum(len(line.text) for line in lines)
        if chars > MAX_TEXT_CHARS:
            raise IngestError(f"{name}: more than {MAX_TEXT_CHARS:,} characters of text; split the file")
        pages.append(lines)
    if not any(pages):
        if failed:
            raise IngestError(f"{name}: a damaged or truncated PDF (no page could be read)")
        raise IngestError(f"{name}: no text layer (a scanned PDF?); OCR is not supported")
    # the top and bottom of a page by position: in two columns, the reading order ends mid-page
    visual = [sorted(lines, key=lambda line: -line.y) for lines in pages]
    removed = _edge_lines([[line.text for line in lines] for lines in visual])
    gone = [{id(lines[i]) for i in indices} for lines, indices in zip(visual, removed)]
    pages = [[line for line in lines if id(line) not in ids] for lines, ids in zip(pages, gone)]
    paragraphs = [p for lines in pages for p in join_lines(lines)]
    title = _meaningful_title(_metadata_title(reader)) or _heading_title(paragraphs)
    return _paged_text(title, _run_on(paragraphs), count)


def _metadata_title(reader: Any) -> Any:
    try:
        return reader.metadata.title if reader.metadata is not None else None
    except Exception:
        return None


def _heading_title(paragraphs: list[list[PrintedLine]]) -> str:
    """The first paragraph of page 1 printed clearly larger than the body text, when short."""
    weighted = sorted((line.size, len(line.text)) for p in paragraphs for line in p)
    half, body = sum(w for _, w in weighted) / 2, 0.0
    for size, weight in weighted:  # the size most characters are printed in (a weighted median)
        body, half = size, half - weight
        if half <= 0:
            break
    if not weighted:
        return ""
    for p in paragraphs:
        if p[0].page != 1:
            break
        text = " ".join(line.text for line in p)
        if p[0].size >= 1.2 * body and 1 <= word_count(text) <= 25:
            return text
    return ""


def _run_on(paragraphs: list[list[PrintedLine]]) -> list[list[PrintedLine]]:
    """Paragraphs cut by a column or page end joined again, so no sentence is cut: the next one
    opens the next column or page in the same font, and the first ends on a line that is not
    short (a paragraph's closing line usually is) without ending a sentence, or the next starts in
    lowercase. A full line ending a sentence is ambiguous and stays a paragraph end."""
    lengths = sorted(len(line.text) for p in paragraphs for line in p)
    full = 0.6 * lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    out: list[list[PrintedLine]] = []
    for p in paragraphs:
        if out:
            prev, first = out[-1][-1], p[0]
            moved = first.page != prev.page or first.y > prev.y + prev.size
            same_font = abs(first.size - prev.size) <= 0.15 * prev.size
            open_ended = not _SENTENCE_END_RE.search(prev.text) and len(prev.text) >= full
            if moved and same_font and (open_ended or first.text[:1].islower()):
                out[-1] = out[-1] + p
                continue
        out.append(p)
    return out


def _paged_text(title: str, paragraphs: list[list[PrintedLine]], count: int) -> SourceText:
    """Paragraphs as lines, with the page each starts on and where later pages begin inside one."""
    lines: list[str] = []
    line_pages: list[int] = []
    breaks: list[tuple[int, int, int]] = []
    for p in paragraphs:
        text = p[0].text
        for prev, line in zip(p, p[1:]):
            text = join_hyphenated(text, line.text)
            if line.page != prev.page:
                breaks.append((len(lines), len(text) - len(line.text.lstrip()), line.page))
        lines.append(text)
        line_pages.append(p[0].page)
    return SourceText(title, lines, "pdf", count, line_pages, breaks)


# ---------------------------------------------------------------- Word (.docx)


def _check_zip(data: bytes, name: str) -> None:
    """Refuse a ZIP bomb before python-docx inflates it: bounded entries, sizes and ratio, and
    every entry read through zipfile's stream, which stops at the declared size and checks the
    CRC, so a header that lies about the size fails here after at most the allowed bytes."""
    bomb = f"{name}: refused, it would inflate to more than {MAX_ZIP_BYTES // (1024 * 1024)} MiB (a ZIP bomb?)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise IngestError(f"{name}: refused, {len(entries)} entries in the archive (more than {MAX_ZIP_ENTRIES})")
            if sum(e.file_size for e in entries) > MAX_ZIP_BYTES:
                raise IngestError(bomb)
            for e in entries:
                if e.file_size > 1024 * 1024 and e.file_size > MAX_ZIP_RATIO * max(e.compress_size, 1):
                    raise IngestError(f"{name}: refused, {e.filename} inflates {e.file_size // max(e.compress_size, 1)}"
                                      " times (a ZIP bomb?)")
            total = 0
            for e in entries:
                with archive.open(e) as stream:
                    while chunk := stream.read(1024 * 1024):
                        total += len(chunk)
                        if total > MAX_ZIP_BYTES:
                            raise IngestError(bomb)
    except IngestError:
        raise
    except Exception as exc:  # zipfile and zlib raise many kinds on a damaged archive (zlib.error, EOFError, ...)
        raise IngestError(f"{name}: a damaged or truncated Word (.docx) file ({_reason(exc)})") from None


def _docx_lines(document: Any) -> Iterator[tuple[str, str]]:
    """(style name, text) of the body's paragraphs and table rows, in order; headers and footers
    belong to sections, not the body, so they are not read."""
    from docx.table import Table

    def rows(table: Any) -> Iterator[str]:
        for row in table.rows:
            cells: list[str] = []
            for cell in row.cells:  # a merged cell comes once per grid column it spans
                text = " ".join(cell.text.split())
                if text and (not cells or cells[-1] != text):
                    cells.append(text)
            if cells:
                line = " | ".join(cells)
                # a row is a statement of the table: a sentence, so it is not taken for furniture
                yield line if _SENTENCE_END_RE.search(line) else line + "."

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for line in rows(block):
                yield "Table", line
        else:
            style = block.style.name if block.style is not None else ""
            for part in block.text.split("\n"):
                yield style or "", part


def _read_docx(data: bytes, name: str) -> SourceText:
    """A Word document's body: title, paragraphs and table rows in order."""
    _check_zip(data, name)
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        blocks = list(_docx_lines(document))
        core_title = document.core_properties.title
    except IngestError:
        raise
    except Exception as exc:  # python-docx and lxml raise many kinds on a damaged file
        raise IngestError(f"{name}: not a readable Word (.docx) document ({_reason(exc)})") from None
    lines = [" ".join(text.split()) for _, text in blocks]
    if not any(lines):
        raise IngestError(f"{name}: no text in this Word document")
    title = _meaningful_title(core_title) or next(
        (" ".join(text.split()) for style, text in blocks
         if (style.startswith("Heading") or style == "Title") and text.strip()), "")
    return SourceText(title, lines, "docx")
