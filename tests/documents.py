"""Builders of PDF and Word files for the tests: reportlab draws PDFs line by line, python-docx writes .docx."""

from __future__ import annotations

import io
from typing import Callable

import docx
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

WIDTH, HEIGHT = A4

# Lines as (x, y from the top, text[, font size]).
Page = list[tuple[float, float, str] | tuple[float, float, str, float]]


def make_pdf(pages: list[Page], title: str | None = None, size: float = 11, by_word: bool = False) -> bytes:
    """A text PDF with each line drawn where it says (reportlab); ``by_word`` places every word on
    its own, as some producers do."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    if title is not None:
        pdf.setTitle(title)
    for page in pages:
        for x, y, text, *font in page:
            points = font[0] if font else size
            pdf.setFont("Helvetica", points)
            for word in text.split() if by_word else [text]:
                pdf.drawString(x, HEIGHT - y, word)
                x += stringWidth(word + " ", "Helvetica", points)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def flowing(lines: list[str], top: float = 100, leading: float = 14, x: float = 72) -> Page:
    """Lines of a column, one under the other; "" leaves a blank line (a paragraph gap)."""
    return [(x, top + i * leading, line) for i, line in enumerate(lines) if line]


def encrypted(data: bytes, user: str, owner: str, algorithm: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user, owner_password=owner, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(build: Callable[[docx.document.Document], object]) -> bytes:
    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


