"""Boilerplate removal on saved web pages: today's line rules against main-text extractors.

    python3 benchmarks/boilerplate.py [--repeat 3] [--show-misses]

Every page of ``tests/webpages.py`` (5 markup families x 6 topics x 2 seeds = 60 pages, built
in memory, each knowing its article and its furniture) goes through

- hand-written rules: the HTML path before trafilatura (kept below as it was: a parser that
  skips menus, headers, footers and forms, then ``clean_lines``' line rules), the baseline;
- ingest_file: what ``qa-service index`` does now (``main_text``, then ``clean_lines`` without
  its furniture rules: list markers and repeated lines only);
- main_text: ``qa_service.webpage.main_text`` (trafilatura, our title and line rules), its
  lines as they are, and the same lines passed through the old ``clean_lines`` furniture rules;
- trafilatura's own ``extract`` as text in its three modes, and jusText with its defaults
  (no title of their own: the headline counts as lost unless they keep it as a line).

It prints Markdown tables: the share of article sentences and table rows kept ("kept") and of
boilerplate lines dropped ("dropped"), overall, per markup family and per kind of furniture,
and each method's time per page as a ratio to today's path, the methods taking turns page by
page (benchmarks/timing.py) so a busy moment falls on all alike; the ratio is what to compare,
the milliseconds vary by machine. ingest_file's time includes reading the saved file and
splitting passages.

The rule: an extractor replaces today's path when, over all pages, it keeps at least as many
article sentences and drops at least as much boilerplate; between extractors that both do,
the higher harmonic mean of the two shares wins.
"""

from __future__ import annotations

import argparse
import html as html_module
import sys
import tempfile
from pathlib import Path
from html.parser import HTMLParser
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import justext  # noqa: E402
from timing import interleaved  # noqa: E402
import trafilatura  # noqa: E402

from qa_service.ingest import clean_lines, ingest_file  # noqa: E402
from qa_service.webpage import main_text  # noqa: E402
from webpages import FAMILIES, Page, Score, build_pages, score  # noqa: E402

Method = Callable[[Page], tuple[str, list[str]]]


# ---------------------------------------------------------------- the baseline, as it was


class _HTMLText(HTMLParser):
    """Visible text of an HTML page as lines, without scripts, navigation or page furniture."""

    SKIP = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template",
            "svg", "button", "select", "iframe", "head"}
    BLOCK = {"p", "div", "section", "article", "main", "li", "ul", "ol", "br", "tr", "table",
             "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "figcaption", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.title = ""
        self.h1 = ""
        self._buf: list[str] = []
        self._skip = 0
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP and tag not in ("br", "hr"):
            self._skip += 1
        if tag in self.BLOCK:
            self._flush()
        if tag == "li" and not self._skip:
            self._buf.append("- ")
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag in self.BLOCK:
            self._flush(blank=tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote"))
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag)]

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "title":
            self.title += data
            return
        if self._skip:
            return
        if "h1" in self._in and not self.h1:
            self.h1 = " ".join(data.split())
        self._buf.append(data)

    def _flush(self, blank: bool = False) -> None:
        line = " ".join("".join(self._buf).split())
        self._buf = []
        if line:
            self.lines.append(line)
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def close(self) -> None:
        super().close()
        self._flush()


def hand_written(page: Page) -> tuple[str, list[str]]:
    """The HTML path before trafilatura: the parser above, then every line rule of ``clean_lines``."""
    parser = _HTMLText()
    parser.feed(page.html)
    parser.close()
    return clean_lines(parser.lines, html_module.unescape(parser.h1 or " ".join(parser.title.split())))


def ingested(folder: Path) -> Method:
    def run(page: Page) -> tuple[str, list[str]]:
        document, _ = ingest_file(folder / f"{page.name}.html")
        return document.title, document.text.split("\n\n")
    return run


def proposed(page: Page) -> tuple[str, list[str]]:
    return main_text(page.html, page.name)


def proposed_then_clean(page: Page) -> tuple[str, list[str]]:
    return clean_lines(*reversed(main_text(page.html, page.name)))


def trafilatura_txt(**mode: bool) -> Method:
    def run(page: Page) -> tuple[str, list[str]]:
        text = trafilatura.extract(page.html, output_format="txt", include_comments=False,
                                   include_tables=True, **mode) or ""
        return "", text.split("\n")
    return run


def justext_default(page: Page) -> tuple[str, list[str]]:
    paragraphs = justext.justext(page.html, justext.get_stoplist("English"))
    return "", [p.text for p in paragraphs if not p.is_boilerplate]


def harmonic(a: float, b: float) -> float:
    return 2 * a * b / (a + b) if a + b else 0.0


def shares(scores: list[Score]) -> tuple[float, float]:
    """(article units kept, boilerplate lines dropped), pooled over the pages."""
    kept = sum(s.sentences_kept + s.rows_kept for s in scores) / max(1, sum(s.sentences + s.rows for s in scores))
    dropped = sum(d for s in scores for d, _ in s.dropped.values())
    total = sum(t for s in scores for _, t in s.dropped.values())
    return kept, dropped / max(1, total)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds over all pages (the median is kept)")
    parser.add_argument("--show-misses", action="store_true", help="list what each method lost and let through")
    args = parser.parse_args(argv)

    pages = build_pages()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for page in pages:
            (folder / f"{page.name}.html").write_text(page.html, encoding="utf-8")
        methods: dict[str, Method] = {
            "hand-written rules": hand_written,
            "ingest_file (now)": ingested(folder),
            "main_text (trafilatura)": proposed,
            "main_text + clean_lines": proposed_then_clean,
            "trafilatura extract": trafilatura_txt(),
            "trafilatura favor_recall": trafilatura_txt(favor_recall=True),
            "trafilatura favor_precision": trafilatura_txt(favor_precision=True),
            "jusText defaults": justext_default,
        }
        for method in methods.values():  # warm up: imports, trafilatura's first-use set-up
            method(pages[0])
        milliseconds = interleaved(methods, pages, args.repeat)
        results = {name: ([score(page, *method(page)) for page in pages], milliseconds[name])
                   for name, method in methods.items()}

    base = results["hand-written rules"][1]
    print(f"{len(pages)} pages ({len(FAMILIES)} markup families x 6 topics x 2 seeds), "
          f"{sum(len(p.sentences) + len(p.rows) for p in pages)} article sentences and table rows, "
          f"{sum(len(p.boilerplate_lines) for p in pages)} boilerplate lines.\n")
    print("| method | article kept | boilerplate dropped | harmonic mean | table rows kept | headline right | time per page vs hand-written |")
    print("|---|---|---|---|---|---|---|")
    for name, (scores, seconds) in results.items():
        kept, dropped = shares(scores)
        rows = sum(s.rows_kept for s in scores) / max(1, sum(s.rows for s in scores))
        titles = sum(s.title_right for s in scores) / len(scores)
        print(f"| {name} | {kept:.1%} | {dropped:.1%} | {harmonic(kept, dropped):.3f} | {rows:.0%} | {titles:.0%} | "
              f"{seconds / base:.1f}x ({seconds:.1f} ms) |")

    print("\nPer markup family (article kept / boilerplate dropped):\n")
    print("| method | " + " | ".join(FAMILIES) + " |")
    print("|---|" + "---|" * len(FAMILIES))
    for name, (scores, _) in results.items():
        cells = []
        for family in FAMILIES:
            kept, dropped = shares([s for p, s in zip(pages, scores) if p.family == family])
            cells.append(f"{kept:.0%} / {dropped:.0%}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    kinds = list(dict.fromkeys(kind for p in pages for kind in p.boilerplate))
    print("\nBoilerplate dropped, per kind of furniture:\n")
    print("| method | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for name, (scores, _) in results.items():
        cells = []
        for kind in kinds:
            dropped = sum(s.dropped.get(kind, [0, 0])[0] for s in scores)
            total = sum(s.dropped.get(kind, [0, 0])[1] for s in scores)
            cells.append(f"{dropped / max(1, total):.0%}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    today_kept, today_dropped = shares(results["hand-written rules"][0])
    winners = []
    for name, (scores, _) in results.items():
        kept, dropped = shares(scores)
        if name not in ("hand-written rules", "ingest_file (now)") and kept >= today_kept and dropped >= today_dropped:
            winners.append((harmonic(kept, dropped), name))
    print("\nRule: replace the hand-written path only with a method that keeps at least as much article and drops at "
          "least as much boilerplate; among those, the higher harmonic mean wins.")
    print(f"Winner: {max(winners)[1]}" if winners else "Winner: the hand-written path (no method is at least as good on both)")

    if args.show_misses:
        for name, (scores, _) in results.items():
            print(f"\n## {name}")
            for page, s in zip(pages, scores):
                if s.lost or s.kept_junk:
                    print(f"- {page.name}: lost {s.lost[:4]} kept {s.kept_junk[:6]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
