"""The chat page in a real browser: Debian's Chromium driven by Playwright, against the real
waitress server over the bundled corpus.

Needs /usr/bin/chromium (or $CHROMIUM) and axe-core in .cache/npm; ./scripts/test.sh installs both.
Run only these with `-m browser`, or leave them out with `-m "not browser"`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, Request, expect, sync_playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
AXE_JS = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# No sandbox because the tests run as root; the rest keeps Chromium off the (closed) network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
WAIT_MS = 5_000          # every wait for the page is bounded by this
STARTUP_SECONDS = 20.0   # the server loads the corpus and word frequencies first
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
CARD = ".card.answer, .card.not-found, .card.error, .card.reply"
# UPDATE_SCREENSHOTS=1 also writes the screenshots the README shows (docs/screenshot*.png).
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"

expect.set_options(timeout=WAIT_MS)


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m qa_service serve` over the bundled corpus (or another), as a subprocess."""

    def __init__(self, log_dir: Path, corpus: Path = CORPUS, args: tuple[str, ...] = ()) -> None:
        self.corpus = corpus
        self.args = args
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Server":
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        with self.log.open("a") as log:  # a file, not a pipe: the server can never block on its output
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qa_service", "serve", "--port", str(self.port), "--corpus", str(self.corpus),
                 *self.args],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.base + "/api/health", timeout=1.0) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the server did not answer /api/health within {STARTUP_SECONDS:.0f} s: "
                            f"{self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"))
    try:
        yield srv.start()
    finally:
        srv.stop()


# Uploads on, over a copy of the bundled corpus (the server writes added documents into its folder),
# with small limits so the page's own checks of them are cheap to reach.
UPLOAD_MAX_FILES = 3
UPLOAD_MAX_MB = 1


@pytest.fixture(scope="module")
def uploads_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("uploads")
    shutil.copytree(CORPUS, folder / "corpus")
    srv = Server(folder, corpus=folder / "corpus", args=(
        "--allow-uploads", "--upload-max-files", str(UPLOAD_MAX_FILES), "--upload-max-mb", str(UPLOAD_MAX_MB)))
    try:
        yield srv.start()
    finally:
        srv.stop()


def _api(server: Server, path: str, method: str = "GET") -> dict[str, Any]:
    """The server's JSON answer, asked as a program (no Origin: allowed to change documents)."""
    request = urllib.request.Request(server.base + path, method=method, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _document_ids(server: Server) -> list[str]:
    return [d["id"] for d in _api(server, "/api/documents")["documents"]]


@pytest.fixture()
def uploads(uploads_server: Server) -> Iterator[Server]:
    """The uploads server; whatever a test added is removed after it, so each test starts from the
    bundled corpus alone."""
    before = _document_ids(uploads_server)
    yield uploads_server
    for doc_id in _document_ids(uploads_server):
        if doc_id not in before:
            _api(uploads_server, "/api/documents/" + urllib.parse.quote(doc_id, safe=""), method="DELETE")
    assert _document_ids(uploads_server) == before


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is not at {CHROMIUM}: run ./scripts/test.sh as root to install it "
                    "(apt-get install chromium), set CHROMIUM=/path/to/chromium, or leave these tests out "
                    "with -m 'not browser'", pytrace=False)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
    yield browser
    browser.close()


@dataclass
class Tab:
    """A page plus everything it did that a test may want to check: console errors, uncaught
    errors, dialogs and the bodies POSTed to /api/ask."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    asks: list[dict[str, Any]] = field(default_factory=list)
    expected_console: re.Pattern[str] | None = None  # console errors a test expects (server down)

    def __post_init__(self) -> None:
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.on("request", self._request)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _request(self, request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/api/ask"):
            self.asks.append(request.post_data_json)

    def unexpected(self) -> list[str]:
        console = [m for m in self.console_errors
                   if not (self.expected_console and self.expected_console.search(m))]
        return ([f"console error: {m}" for m in console] + [f"page error: {m}" for m in self.page_errors]
                + [f"dialog: {m}" for m in self.dialogs])

    def assert_clean(self) -> None:
        problems = self.unexpected()
        assert not problems, "\n".join(problems)

    # -------------------------------------------------- driving the page

    @property
    def question(self) -> Locator:
        return self.page.locator("#question")

    def turn(self, n: int) -> Locator:
        return self.page.locator(f"#thread > article.turn#turn-{n}")

    def wait_turn(self, n: int) -> Locator:
        """The card (answer, not found or error) of turn n, once the request has finished."""
        turn = self.turn(n)
        card = turn.locator(CARD)
        expect(card).to_have_count(1)
        expect(turn).not_to_have_attribute("aria-busy", "true")
        expect(turn.locator(".pending")).to_have_count(0)
        return card

    def ask(self, question: str, n: int) -> Locator:
        """Fills the box, presses Enter, returns the card of turn n."""
        self.question.fill(question)
        self.question.press("Enter")
        return self.wait_turn(n)


@pytest.fixture()
def open_page(browser: Browser, server: Server) -> Iterator[Callable[..., Tab]]:
    """open_page(**context_options) -> a Tab on the chat page, in a context of its own. After the
    test, no page may have logged a console error (unless expected), thrown, or opened a dialog."""
    contexts: list[BrowserContext] = []
    tabs: list[Tab] = []

    def _open(base: str | None = None, **options: Any) -> Tab:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(base_url=base or server.base, **options)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        contexts.append(context)
        tab = Tab(context.new_page())
        tabs.append(tab)
        tab.page.goto("/")
        expect(tab.page.locator("#send")).to_be_disabled()  # the script ran (it keeps #send disabled)
        return tab

    yield _open
    problems = [p for tab in tabs for p in tab.unexpected()]
    for context in contexts:
        context.close()
    assert not problems, "the page logged errors, threw, or opened dialogs:\n" + "\n".join(problems)


@pytest.fixture()
def tab(open_page: Callable[..., Tab]) -> Tab:
    return open_page()


def _visible_above_composer(page: Page, selector: str) -> bool:
    """Whether the element is wholly on screen, between the top of the viewport and the sticky
    question box."""
    return page.evaluate(
        """(selector) => {
            const nodes = document.querySelectorAll(selector);
            if (!nodes.length) return false;
            const r = nodes[nodes.length - 1].getBoundingClientRect();
            const bottom = document.getElementById('ask-form').getBoundingClientRect().top;
            return r.height > 0 && r.top >= 0 && r.bottom <= bottom;
        }""",
        selector,
    )


def _wait_visible_above_composer(page: Page, selector: str) -> None:
    """Waits out the smooth scroll, then insists the element is visible."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not _visible_above_composer(page, selector):
        if time.monotonic() > deadline:
            pytest.fail(f"{selector} is not scrolled into view: "
                        + json.dumps(page.evaluate("""(s) => { const n = document.querySelectorAll(s);
                            const r = n[n.length - 1].getBoundingClientRect();
                            return {top: r.top, bottom: r.bottom, scrollY: window.scrollY,
                                    innerHeight: window.innerHeight}; }""", selector)))
        page.wait_for_timeout(50)


def _focus_info(page: Page) -> dict[str, Any]:
    """The focused element, and whether it shows focus: it matches :focus-visible and an outline
    is drawn, on it or, for the question box, on the row around it (the page's design)."""
    return page.evaluate(
        """() => {
            const a = document.activeElement;
            const drawn = (el) => { const s = getComputedStyle(el);
                                    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; };
            let outline = drawn(a);
            if (!outline && a.id === 'question') outline = drawn(a.closest('.composer-row'));
            return {tag: a.tagName.toLowerCase(), id: a.id, cls: a.className, text: (a.textContent || '').slice(0, 60),
                    focusVisible: a.matches(':focus-visible'), outline: outline,
                    cited: !!(a.parentElement && a.parentElement.classList.contains('cited'))};
        }"""
    )


def _tab_to(page: Page, wanted: Callable[[dict[str, Any]], bool], key: str = "Tab", limit: int = 30) -> dict:
    """Presses key until the focused element is the wanted one; every stop must show its focus."""
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        info = _focus_info(page)
        seen.append(f"{info['tag']}#{info['id']}.{info['cls']}")
        if info["tag"] != "body":
            assert info["focusVisible"] and info["outline"], f"focus is not visible on {info}"
        if wanted(info):
            return info
    pytest.fail(f"not reached with {key} in {limit} presses; focus went: {seen}")


# ---------------------------------------------------------------- the tests


def test_ask_by_typing_and_enter_shows_the_answer(tab: Tab) -> None:
    page = tab.page
    tab.question.click()
    tab.question.press_sequentially("why did Armenia recall its envoy?")
    expect(page.locator("#send")).to_be_enabled()
    tab.question.press("Enter")
    expect(tab.turn(1).locator(".question-text")).to_have_text("why did Armenia recall its envoy?")
    card = tab.wait_turn(1)

    expect(card).to_have_class(re.compile(r"\banswer\b"))
    expect(card.locator(".answer-text")).to_have_text(re.compile(r"\S{3}"))
    assert card.locator(".answer-text .answer-span").inner_text() in card.locator(".answer-text").inner_text()
    citation = card.locator("a.citation")
    expect(citation).to_have_count(1)
    expect(citation).to_have_attribute("href", re.compile(r"^#turn-1-passage-\d+$"))
    passages = card.locator("details.passage")
    assert 1 <= passages.count() <= 3
    expect(card.locator("details.passage.cited")).to_have_count(1)
    expect(card.locator("details.passage[open]")).to_have_count(0)  # collapsed: the next question stays in view
    assert card.locator("details.passage.cited mark").count() >= 1
    for label in card.locator(".passage-label").all_inner_texts():  # short labels, no raw scores
        assert re.fullmatch(r"¶\s\d+", label), label
    for summary in card.locator(".passage-summary").all_inner_texts():
        assert not re.search(r"score|\d\.\d\d", summary), summary
    expect(card.locator(".took")).to_have_text(re.compile(r"ms$"))

    expect(tab.question).to_be_focused()
    expect(tab.question).to_have_value("")
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#intro")).to_be_hidden()
    _wait_visible_above_composer(page, "#turn-1 .answer-text")
    assert [a["question"] for a in tab.asks] == ["why did Armenia recall its envoy?"]
    assert tab.asks[0]["history"] == [] and tab.asks[0]["top_k"] == 3


def test_shift_enter_is_a_new_line_and_blank_questions_are_not_sent(tab: Tab) -> None:
    page = tab.page
    send = page.locator("#send")
    tab.question.click()
    tab.question.press_sequentially("first line")
    tab.question.press("Shift+Enter")
    tab.question.press_sequentially("second line")
    expect(tab.question).to_have_value("first line\nsecond line")

    tab.question.fill("")
    expect(send).to_be_disabled()
    tab.question.press("Enter")
    tab.question.press_sequentially("   ")
    tab.question.press("Shift+Enter")
    tab.question.press_sequentially("  ")
    expect(tab.question).to_have_value("   \n  ")
    expect(send).to_be_disabled()
    tab.question.press("Enter")
    send.click(force=True)  # a click on the disabled button does nothing either
    page.wait_for_timeout(300)  # time for a request to start, had one been sent
    assert tab.asks == []
    expect(page.locator("#thread > *")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()

    tab.question.fill("first line\nsecond line")  # and a question of two lines is sent whole
    expect(send).to_be_enabled()
    send.click()
    tab.wait_turn(1)
    assert [a["question"] for a in tab.asks] == ["first line\nsecond line"]
    expect(tab.turn(1).locator(".question-text")).to_have_text("first line\nsecond line")


def test_follow_up_is_answered_in_context(tab: Tab) -> None:
    first = "When did Pashinyan announce that Armenia would leave the CSTO?"
    tab.ask(first, 1)
    card = tab.ask("And when was that?", 2)
    expect(card.locator(".answer-text")).to_contain_text("June 12")
    assert [a["question"] for a in tab.asks] == [first, "And when was that?"]
    assert tab.asks[0]["history"] == []
    sent = tab.asks[1]["history"]  # the earlier exchange, with the answer the page was given
    assert [h["question"] for h in sent] == [first]
    assert "June 12" in sent[0]["answer"]["text"] and isinstance(sent[0]["answer"]["passage_id"], str)
    assert isinstance(sent[0]["answer"]["start"], int)
    _wait_visible_above_composer(tab.page, "#turn-2 .answer-text")


def test_new_conversation_resets_the_thread_and_the_history(tab: Tab) -> None:
    page = tab.page
    tab.ask("When did Pashinyan announce that Armenia would leave the CSTO?", 1)
    tab.question.fill("a draft")
    page.locator("#new-conversation").click()
    expect(page.locator("#thread > *")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()
    expect(page.locator("button.example").first).to_be_visible()
    expect(tab.question).to_have_value("")
    expect(tab.question).to_be_focused()

    card = tab.ask("And when was that?", 2)  # ids keep counting: they stay unique in the page
    assert tab.asks[-1]["history"] == []
    expect(card).to_be_visible()
    expect(page.locator("#thread > article.turn")).to_have_count(1)


def test_unanswerable_question_shows_not_found(tab: Tab) -> None:
    card = tab.ask("Who painted the Mona Lisa?", 1)
    expect(card).to_have_class(re.compile(r"\bnot-found\b"))
    expect(card.locator(".message")).to_contain_text("does not")
    expect(card.locator(".answer-text, a.citation")).to_have_count(0)
    expect(tab.page.locator("#turn-1 .card.answer, #turn-1 .card.error")).to_have_count(0)


def test_a_passage_found_by_meaning_alone_says_so(tab: Tab) -> None:
    page = tab.page

    def by_meaning(route) -> None:  # noqa: ANN001 - the real answer, its second source made meaning-only
        body = route.fetch().json()
        body["passages"][1].update(matched_terms=[], highlights=[], scores={**body["passages"][1]["scores"],
                                                                            "semantic": 0.61})
        route.fulfill(json=body)

    page.route("**/api/ask", by_meaning)
    card = tab.ask("why did Armenia recall its envoy?", 1)
    expect(card).to_have_class(re.compile(r"\banswer\b"))
    flagged = tab.turn(1).locator("details.passage", has=page.locator(".passage-badge.by-meaning"))
    expect(flagged).to_have_count(1)
    expect(flagged.locator(".passage-badge.by-meaning")).to_have_text("found by meaning")
    flagged.locator("summary").click()
    expect(flagged.locator("mark")).to_have_count(0)  # nothing to highlight: no shared word
    others = tab.turn(1).locator("details.passage:not(:has(.by-meaning))")
    expect(others).to_have_count(2)
    page.unroute("**/api/ask")


def test_the_exact_answer_is_emphasised_in_its_sentence(tab: Tab) -> None:
    card = tab.ask("How much does Armenia owe the CSTO?", 1)
    expect(card.locator(".answer-text .answer-span")).to_have_text("$598,000")
    expect(card.locator(".answer-text")).to_contain_text("owes the CSTO $598,000 in unpaid fees")
    card = tab.ask("What colour is the sky over the capital?", 2)  # no span of that type: the sentence alone
    expect(tab.page.locator("#turn-2 .answer-span")).to_have_count(0)


def test_a_sixty_turn_conversation_keeps_working_and_sends_a_bounded_window(tab: Tab) -> None:
    """Once a defect: the page sent every earlier question and broke after 50 (the API's limit)."""
    page = tab.page
    real: dict[str, Any] = {}

    def instant(route) -> None:  # noqa: ANN001 - the server's real answer once, then the same at once
        if "body" not in real:
            real["body"] = route.fetch().json()
        route.fulfill(json=real["body"])

    page.route("**/api/ask", instant)
    for n in range(1, 61):
        card = tab.ask(f"And what happened next, part {n}?", n)
        expect(card).not_to_have_class(re.compile(r"\berror\b"))
    assert len(tab.asks) == 60
    assert max(len(a["history"]) for a in tab.asks) == 5
    assert [h["question"] for h in tab.asks[-1]["history"]] == [
        f"And what happened next, part {n}?" for n in range(55, 60)]
    page.reload()  # all sixty are kept, and the window sent stays bounded
    expect(page.locator("#thread > article.turn")).to_have_count(60)
    tab.ask("And then?", 61)
    assert [h["question"] for h in tab.asks[-1]["history"]] == [
        f"And what happened next, part {n}?" for n in range(56, 61)]
    page.unroute("**/api/ask")


def test_markup_in_a_question_is_shown_as_text(tab: Tab) -> None:
    page = tab.page
    question = "Who wrote <img src=x onerror=alert(1)> and <script>alert(2)</script> about Armenia?"
    tab.ask(question, 1)
    expect(tab.turn(1).locator(".question-text")).to_have_text(question)
    text = tab.turn(1).locator(".question-text").text_content()
    assert "<img src=x onerror=alert(1)>" in text and "<script>alert(2)</script>" in text
    assert page.locator("#thread img, #thread script").count() == 0
    assert page.evaluate("document.images.length") == 0
    page.wait_for_timeout(200)  # an injected handler would have fired by now
    assert tab.dialogs == [] and tab.console_errors == [] and tab.page_errors == []


def test_phone_has_no_horizontal_scroll(open_page: Callable[..., Tab], uploads: Server) -> None:
    tab = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page = tab.page
    send = page.locator("#send")

    def check() -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"
        expect(send).to_be_visible()
        expect(send).to_be_in_viewport(ratio=1)
        expect(tab.question).to_be_in_viewport(ratio=1)

    check()
    tab.ask("why did Armenia recall its envoy?", 1)
    check()
    tab.ask("What about " + "Supercalifragilisticexpialidocious" * 4 + " https://example.org/" + "a" * 120, 2)
    check()
    tab.question.fill("x")
    expect(send).to_be_enabled()

    # The documents panel, with a long file name in the list and a removal waiting to be confirmed.
    tab = open_page(base=uploads.base, viewport=PHONE, is_mobile=True, has_touch=True)
    page = tab.page
    send = page.locator("#send")
    panel = _open_library(tab)
    check()
    long_name = "minutes-of-the-harbour-board-" + "x" * 60 + ".md"
    page.locator("#upload-input").set_input_files(
        {"name": long_name, "mimeType": "text/markdown", "buffer": LIGHTHOUSE.encode()})
    expect(panel.locator("#upload-status")).to_have_text(re.compile(re.escape(long_name)))
    row = _item(panel, "The Lighthouse of Vardø Skerry")
    row.locator("button.remove").click()
    expect(row.locator("button.remove")).to_have_class(re.compile(r"\barmed\b"))
    expect(row.locator("button.remove")).to_be_in_viewport(ratio=1)
    check()


def test_keyboard_only(tab: Tab) -> None:
    page = tab.page
    # From the page start, the first Tab reaches the skip link, and Enter on it the question box.
    _tab_to(page, lambda i: i["cls"] == "skip-link", limit=1)
    expect(page.locator(".skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(tab.question).to_be_focused()
    assert _focus_info(page)["outline"], "the question box shows no focus after the skip link"

    page.keyboard.type("why did Armenia recall its envoy?")
    page.keyboard.press("Enter")
    card = tab.wait_turn(1)
    expect(tab.question).to_be_focused()

    # The citation is above the question box: Shift+Tab walks back to it through the passages.
    _tab_to(page, lambda i: "citation" in i["cls"], key="Shift+Tab")
    # Enter on it opens the document at the cited passage; Escape closes it, back on the citation.
    page.keyboard.press("Enter")
    view = page.locator("#document-view")
    expect(view).to_be_visible()
    expect(view.locator(".doc-passage.current")).to_be_focused()
    page.keyboard.press("Escape")
    expect(view).to_be_hidden()
    expect(card.locator("a.citation")).to_be_focused()
    # The cited passage opens from the keyboard too.
    cited = card.locator("details.passage.cited")
    _tab_to(page, lambda i: i["tag"] == "summary" and i["cited"])
    page.keyboard.press("Enter")
    expect(cited).to_have_attribute("open", "")
    expect(cited.locator(".passage-text")).to_be_visible()
    _wait_visible_above_composer(page, "#turn-1 details.passage.cited > summary")

    # "New conversation" is reachable, and Enter on it clears the thread.
    _tab_to(page, lambda i: i["id"] == "new-conversation")
    page.keyboard.press("Enter")
    expect(page.locator("#thread > *")).to_have_count(0)
    expect(tab.question).to_be_focused()
    expect(page.locator("#intro")).to_be_visible()
    # And the examples can be reached and asked with Space.
    _tab_to(page, lambda i: "example" in i["cls"])
    page.keyboard.press("Space")
    tab.wait_turn(2)


def test_page_recovers_when_the_server_comes_back(open_page: Callable[..., Tab], tmp_path: Path) -> None:
    own = Server(tmp_path).start()
    try:
        tab = open_page(base=own.base)
        # Chromium logs each refused request as a console error: expected here, and only here.
        tab.expected_console = re.compile(r"Failed to load resource: net::ERR_CONNECTION_REFUSED")
        tab.ask("When did Pashinyan announce that Armenia would leave the CSTO?", 1)
        expect(tab.turn(1).locator(".card.answer")).to_have_count(1)

        own.stop()
        card = tab.ask("And when was that?", 2)
        expect(card).to_have_class(re.compile(r"\berror\b"))
        expect(card.locator(".message")).to_contain_text("Could not reach the server")
        expect(tab.question).to_be_focused()
        assert tab.console_errors, "expected Chromium to log the refused connection"

        own.start()  # the same port again
        card.get_by_role("button", name="Try again").click()
        card = tab.wait_turn(3)
        expect(card).to_have_class(re.compile(r"\banswer\b"))
        expect(card.locator(".answer-text")).to_contain_text("June 12")
        expect(tab.turn(2)).to_have_count(0)  # the failed turn gave way to the new one
        assert [h["question"] for h in tab.asks[-1]["history"]] == [
            "When did Pashinyan announce that Armenia would leave the CSTO?"]

        card = tab.ask("Who painted the Mona Lisa?", 4)  # and typing works again too
        expect(card).to_have_class(re.compile(r"\bnot-found\b"))
    finally:
        own.stop()


def test_clicking_an_example_asks_it(tab: Tab) -> None:
    page = tab.page
    examples = page.locator("button.example")
    assert examples.count() >= 1
    example = examples.nth(1)
    text = example.inner_text()
    example.click()
    card = tab.wait_turn(1)
    expect(tab.turn(1).locator(".question-text")).to_have_text(text)
    expect(card).to_have_class(re.compile(r"\banswer\b"))
    assert [a["question"] for a in tab.asks] == [text]
    expect(tab.question).to_be_focused()
    expect(page.locator("#intro")).to_be_hidden()


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(open_page: Callable[..., Tab], uploads: Server,
                                             color_scheme: str) -> None:
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is missing ({AXE_JS}); ./scripts/test.sh installs it with "
                    "npm install --no-save --prefix .cache/npm axe-core@4", pytrace=False)
    # The page's Content-Security-Policy (script-src 'self') would block the injected axe script,
    # so this context alone bypasses CSP; every other test runs with the policy in force.
    tab = open_page(bypass_csp=True, color_scheme=color_scheme)
    page = tab.page
    page.add_script_tag(path=str(AXE_JS))

    def check(state: str) -> None:
        page.evaluate("() => document.getAnimations().forEach(a => a.finish())")  # no half-faded colours
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            for v in bad:
                print(f"[{state}/{color_scheme}] {v['impact']} {v['id']}: {v['help']} ({v['helpUrl']})")
                for node in v["nodes"][:5]:
                    print("   ", node["target"], node["failureSummary"].replace("\n", " "))
        assert not bad, f"{state} page: " + ", ".join(f"{v['id']} ({v['impact']})" for v in bad)

    check("empty")
    tab.ask("why did Armenia recall its envoy?", 1)
    tab.ask("Who painted the Mona Lisa?", 2)
    check("answered")
    tab.ask("When did Pashinyan announce that Armenia would leave the CSTO?", 3)
    tab.ask("And when was that?", 4)  # the follow-up banner
    tab.ask("When did Belarus recall its ambassador?", 5)  # a hedged answer
    tab.ask("Hello!", 6)
    cited = tab.turn(1).locator("details.passage.cited")
    cited.locator("summary").click()
    cited.get_by_role("button", name="Why this passage?").click()
    expect(cited.locator("table.explain-table")).to_be_visible()
    check("explained")
    tab.turn(1).locator("a.citation").click()
    expect(page.locator("#document-view .doc-passage.current")).to_be_visible()
    check("document view")

    # With uploads on: the documents panel, after an upload, with a removal waiting for its
    # confirmation, and with a refusal said.
    tab = open_page(base=uploads.base, bypass_csp=True, color_scheme=color_scheme)
    page = tab.page
    page.add_script_tag(path=str(AXE_JS))
    panel = _open_library(tab)
    check("documents panel")
    row = _lighthouse(tab, panel)
    row.locator("button.remove").click()
    expect(row.locator("button.remove")).to_have_class(re.compile(r"\barmed\b"))
    check("documents panel, removing")
    page.locator("#upload-input").set_input_files(
        [{"name": f"n{i}.txt", "mimeType": "text/plain", "buffer": b"A note."} for i in range(UPLOAD_MAX_FILES + 1)])
    expect(panel.locator("#upload-status")).to_have_attribute("data-state", "error")
    check("documents panel, refused")


def test_screenshots_of_an_answered_conversation(open_page: Callable[..., Tab], tmp_path: Path) -> None:
    for name, options in [("desktop", {"viewport": DESKTOP}),
                          ("phone", {"viewport": PHONE, "is_mobile": True, "has_touch": True})]:
        tab = open_page(**options)
        tab.ask("why did Armenia recall its envoy?", 1)
        _wait_visible_above_composer(tab.page, "#turn-1 .answer-text")
        path = tmp_path / f"{name}.png"
        tab.page.screenshot(path=path, animations="disabled", caret="hide")
        if UPDATE_SCREENSHOTS:
            shutil.copyfile(path, ROOT / "docs" / ("screenshot.png" if name == "desktop" else f"screenshot-{name}.png"))
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 10 * 1024, f"{path} is only {len(data)} bytes"


def test_pending_indicator_while_waiting(tab: Tab) -> None:
    page = tab.page
    held: list[Any] = []
    page.route("**/api/ask", lambda route: held.append(route))  # hold the request until we let it go
    tab.question.fill("why did Armenia recall its envoy?")
    tab.question.press("Enter")
    pending = tab.turn(1).locator(".pending")
    expect(pending).to_be_visible()
    expect(pending).to_contain_text("Searching")
    expect(tab.turn(1)).to_have_attribute("aria-busy", "true")
    expect(page.locator("#send")).to_be_disabled()
    deadline = time.monotonic() + WAIT_MS / 1000
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    assert held, "the question was never sent"
    held[0].continue_()
    card = tab.wait_turn(1)
    expect(card.locator(".answer-text")).to_contain_text("Armenia")


def test_an_api_error_is_shown_in_plain_words(tab: Tab) -> None:
    page = tab.page
    body = json.dumps({"error": {"code": "invalid_field", "message": "'question' must be at most 1000 characters"}})
    page.route("**/api/ask", lambda route: route.fulfill(status=400, content_type="application/json", body=body))
    card = tab.ask("What is in the document?", 1)
    expect(card).to_have_class(re.compile(r"\berror\b"))
    expect(card).to_contain_text("'question' must be at most 1000 characters")
    tab.expected_console = re.compile(r"status of 400")  # Chromium logs the failed fetch itself
    page.unroute("**/api/ask")
    card = tab.ask("How much does Armenia owe the CSTO?", 2)
    expect(card.locator(".answer-text")).to_contain_text("$598,000")
    assert tab.asks[-1]["history"] == []  # the failed turn is not part of the conversation


def test_nothing_is_loaded_from_other_origins(open_page: Callable[..., Tab], server: Server) -> None:
    urls: list[str] = []
    tab = open_page()
    tab.page.on("request", lambda r: urls.append(r.url))
    tab.page.reload()
    tab.ask("Who is Tigran Ter-Margaryan?", 1)
    assert urls and all(u.startswith(server.base + "/") for u in urls), urls


# ---------------------------------------------------------------- issue 13: second pass


def _hedged_or_not(card: Locator) -> str:
    return card.locator(".card-label.confidence").inner_text()


def _with_confidence(value: float | None):  # noqa: ANN202
    """A route handler that sets the answer's confidence (None: as from a server without the decider)."""
    def handler(route) -> None:  # noqa: ANN001
        body = route.fetch().json()
        if body["answer"] is not None:
            body["answer"]["confidence"] = value
        body["confidence"] = value
        route.fulfill(json=body)
    return handler


def test_confidence_is_said_in_words_and_the_span_is_emphasised(tab: Tab) -> None:
    page = tab.page
    # the decider's own confidence, as the API sends it
    sure = tab.ask("How much does Armenia owe the CSTO?", 1)
    expect(sure.locator(".answer-text .answer-span")).to_have_text("$598,000")
    said = tab.page.evaluate("q => fetch('/api/ask?q=' + encodeURIComponent(q)).then(r => r.json())",
                             "How much does Armenia owe the CSTO?")
    assert said["answer"]["confidence"] >= 0.5
    expect(sure.locator(".card-label.confidence")).to_have_text("Answer")
    expect(sure).not_to_have_class(re.compile(r"\bhedged\b"))
    # Without a confidence (a words-only server), the page works the cue out from the answer:
    page.route("**/api/ask", _with_confidence(None))
    # a date was asked for and the sentence holds none: the closest text, said so
    unsure = tab.ask("When did Belarus recall its ambassador?", 2)
    expect(unsure.locator(".card-label.confidence")).to_have_text("Closest passage, may not answer this")
    expect(unsure).to_have_class(re.compile(r"\bhedged\b"))
    expect(unsure.locator(".answer-span")).to_have_count(0)
    # a word of the question the documents never use, nor any word near it in meaning ("interview";
    # "trip" would search "travel"): also only the closest passage
    expect(tab.ask("What did Zakharova say about the interview?", 3).locator(".card-label.confidence")).to_have_text(
        "Closest passage, may not answer this")
    page.unroute("**/api/ask")
    # no raw score anywhere outside the explain view
    for card in (sure, unsure):
        visible = card.evaluate("c => [...c.querySelectorAll('.card-label, .answer-text, .answer-source, summary')]"
                                ".map(n => n.innerText).join(' ')")
        assert not re.search(r"\d\.\d{2}", visible.replace("598,000", "")), visible

    # When the API carries answer.confidence, the cue follows it.
    page.route("**/api/ask", _with_confidence(0.2))
    low = tab.ask("How much does Armenia owe the CSTO?", 4)
    expect(low.locator(".card-label.confidence")).to_have_text("Closest passage, may not answer this")
    expect(low.locator(".answer-span")).to_have_text("$598,000")  # the span stays emphasised
    page.unroute("**/api/ask")
    page.route("**/api/ask", _with_confidence(0.9))
    high = tab.ask("When did Belarus recall its ambassador?", 5)
    expect(high.locator(".card-label.confidence")).to_have_text("Answer")
    page.unroute("**/api/ask")


def test_why_this_passage_shows_each_words_part_and_the_raw_scores(tab: Tab) -> None:
    card = tab.ask("why did Armenia recall its envoy?", 1)
    cited = card.locator("details.passage.cited")
    cited.locator("summary").click()
    why = cited.get_by_role("button", name="Why this passage?")
    expect(why).to_have_attribute("aria-expanded", "false")
    why.click()
    expect(why).to_have_attribute("aria-expanded", "true")
    view = cited.locator(".explain")
    expect(view.locator(".explain-scores")).to_contain_text("BM25")
    expect(view.locator(".explain-scores")).to_contain_text("meaning (cosine)")
    table = view.locator("table.explain-table")
    expect(table.locator("thead th")).to_have_text(["Word", "Searched as", "IDF", "In passage", "Weight", "Adds"])
    rows = {r.locator("th").inner_text(): [c.inner_text() for c in r.locator("td").all()]
            for r in table.locator("tbody tr").all()}
    assert {"Armenia", "recall", "envoy"} <= rows.keys(), rows
    assert rows["recall"][0] != "recall"  # the stem it searched, as the index has it
    assert rows["envoy"][2] == "1×" and float(rows["envoy"][4]) > 0
    assert tab.asks[-1]["question"] == "why did Armenia recall its envoy?"
    why.click()
    expect(view).to_be_hidden()
    # a word the article never uses, searched by its nearest word in meaning, says so
    card = tab.ask("Who represents Yerevan in Kyiv?", 2)
    cited = card.locator("details.passage").first
    cited.locator("summary").click()
    cited.get_by_role("button", name="Why this passage?").click()
    table = cited.locator(".explain table.explain-table")
    expect(table.locator("tbody tr", has_text="Kyiv")).to_contain_text("(nearest in meaning)")


def test_follow_up_banner_and_ask_on_its_own(tab: Tab) -> None:
    first = "When did Pashinyan announce that Armenia would leave the CSTO?"
    tab.ask(first, 1)
    expect(tab.turn(1).locator(".follow-up-note")).to_have_count(0)
    card = tab.ask("And when was that?", 2)
    note = card.locator(".follow-up-note")
    expect(note).to_contain_text("Read as a follow-up to:")
    expect(note.locator("q")).to_have_text(first)
    sent = tab.asks[-1]["history"]
    assert [set(h) for h in sent] == [{"question", "answer"}] and sent[0]["question"] == first  # the exchange form
    note.get_by_role("button", name="Ask on its own").click()
    alone = tab.wait_turn(3)
    expect(tab.turn(3).locator(".question-text")).to_have_text("And when was that?")
    assert tab.asks[-1] == {"question": "And when was that?", "top_k": 3, "history": []}
    expect(alone.locator(".follow-up-note")).to_have_count(0)
    expect(tab.question).to_be_focused()


_WORDS_BROKEN = """(selector) => {
    // words (runs without spaces or hyphens) drawn on more than one line, inside the elements
    const broken = [];
    for (const root of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (!node.parentElement.checkVisibility()) continue;  // a closed passage's text is not drawn
            for (const m of node.textContent.matchAll(/[^\\s\\u00a0-]+/g)) {  // a break after a hyphen is fine
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
                if (tops.size > 1) broken.push(m[0] + ' in .' + node.parentElement.className);
            }
        }
    }
    return broken;
}"""


def test_short_source_labels_on_a_phone(open_page: Callable[..., Tab]) -> None:
    tab = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page = tab.page
    card = tab.ask("why did Armenia recall its envoy?", 1)
    title = "Armenia withdraws envoy from Belarus due to escalating tensions with Russia"
    sources = card.locator(".sources")
    expect(sources.locator(".sources-doc")).to_have_text(f"from “{title}”")
    assert sources.inner_text().count(title) == 1  # the title once, not on every card
    expect(sources.locator(".passage-label").first).to_have_text(re.compile(r"^¶\s\d+$"))
    assert "armenia-recalls-envoy-from-belarus-p" not in card.inner_text()  # no ids to wrap mid-word
    expect(card.locator(".answer-source a.citation")).to_have_text(re.compile(r"^¶\s\d+$"))
    # collapsed, each passage shows its first line
    first_line = sources.locator(".passage-first-line").first
    expect(first_line).to_be_visible()
    expect(first_line).to_have_text(re.compile(r"^Russia takes issue"))  # the line after the title
    assert page.evaluate(_WORDS_BROKEN, "#turn-1 .sources, #turn-1 .answer-source, #turn-1 .card-label") == []
    expect(card.locator("details.passage[open]")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # the next question and its answer fit on the screen: nothing opened pushes them away
    tab.ask("How much does Armenia owe the CSTO?", 2)
    _wait_visible_above_composer(page, "#turn-2 .question-text")
    _wait_visible_above_composer(page, "#turn-2 .answer-text")


def test_a_citation_opens_the_document_at_the_passage(tab: Tab) -> None:
    page = tab.page
    card = tab.ask("How much does Armenia owe the CSTO?", 1)
    cited_id = card.locator("details.passage.cited").get_attribute("data-passage-id")
    answer = card.locator(".answer-text").inner_text()
    card.locator("a.citation").click()
    view = page.locator("#document-view")
    expect(view).to_be_visible()
    expect(view.locator("#document-view-title")).to_have_text(
        "Armenia withdraws envoy from Belarus due to escalating tensions with Russia")
    current = view.locator(".doc-passage.current")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-passage-id", cited_id)
    expect(current.locator(".in-answer")).to_have_text(answer)
    expect(current).to_be_in_viewport()
    expect(current).to_be_focused()
    assert view.locator(".doc-passage").count() >= 10  # the whole document, not only the passage
    view.get_by_role("button", name="Close").click()
    expect(view).to_be_hidden()
    expect(card.locator("a.citation")).to_be_focused()
    # any source opens it too, at its own passage
    other = card.locator("details.passage:not(.cited)").first
    other.locator("summary").click()
    other.get_by_role("button", name="Read it in the document").click()
    expect(view.locator(".doc-passage.current")).to_have_attribute("data-passage-id",
                                                                  other.get_attribute("data-passage-id"))
    page.keyboard.press("Escape")
    expect(view).to_be_hidden()


def test_reload_keeps_the_conversation_and_new_conversation_clears_it(tab: Tab) -> None:
    page = tab.page
    first = "When did Pashinyan announce that Armenia would leave the CSTO?"
    tab.ask("Who painted the Mona Lisa?", 1)
    tab.ask(first, 2)
    page.reload()
    expect(page.locator("#thread > article.turn")).to_have_count(2)
    expect(page.locator("#thread .question-text")).to_have_text(["Who painted the Mona Lisa?", first])
    expect(tab.turn(1).locator(".card.not-found")).to_have_count(1)
    expect(tab.turn(2).locator(".answer-text")).to_contain_text("June 12")
    expect(page.locator("#intro")).to_be_hidden()
    card = tab.ask("And when was that?", 3)  # the kept conversation is what a follow-up leans on
    assert [h["question"] for h in tab.asks[-1]["history"]] == ["Who painted the Mona Lisa?", first]
    expect(card.locator(".answer-text")).to_contain_text("June 12")
    page.locator("#new-conversation").click()
    page.reload()
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#thread > *")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()


def test_copy_answer_and_a_link_that_asks_again(open_page: Callable[..., Tab]) -> None:
    tab = open_page(permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    card = tab.ask("How much does Armenia owe the CSTO?", 1)
    card.get_by_role("button", name="Copy answer").click()
    expect(card.locator(".copy-status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert card.locator(".answer-text").inner_text() in copied and "¶" in copied
    link = card.locator("a.ask-link")
    href = link.get_attribute("href")
    assert href == "/?q=How%20much%20does%20Armenia%20owe%20the%20CSTO%3F"
    page.locator("#new-conversation").click()
    page.goto(href)  # opening the link asks the question, on its own
    card = tab.wait_turn(1)
    expect(card.locator(".answer-span")).to_have_text("$598,000")
    assert tab.asks[-1] == {"question": "How much does Armenia owe the CSTO?", "top_k": 3, "history": []}
    assert "q=" not in page.url  # a reload shows the kept turn and does not ask it again
    asked = len(tab.asks)
    page.reload()
    expect(page.locator("#thread > article.turn")).to_have_count(1)
    assert len(tab.asks) == asked


def test_greetings_and_overview_questions(tab: Tab) -> None:
    card = tab.ask("Hello!", 1)
    expect(card).to_have_class(re.compile(r"\breply\b"))
    expect(card.locator(".message")).to_contain_text("Hello!")
    expect(card.locator(".message")).to_contain_text("Ask me anything about")
    expect(card).not_to_contain_text("does not mention")
    card = tab.ask("Thanks!", 2)
    expect(card.locator(".message")).to_contain_text("You're welcome")
    card = tab.ask("What is this document about?", 3)
    expect(card).to_have_class(re.compile(r"\boverview\b"))
    expect(card.locator(".card-label.confidence")).to_have_text("About the document")
    expect(card.locator(".overview-title")).to_contain_text(
        "Armenia withdraws envoy from Belarus due to escalating tensions with Russia")
    expect(card.locator("a.citation")).to_have_text(re.compile(r"^¶\s1$"))
    assert tab.asks[-1]["history"] == []  # small talk is not something a follow-up leans on
    expect(tab.ask("Summarise", 4).locator(".answer-text")).to_have_text(card.locator(".answer-text").inner_text())


def test_example_chips_for_a_custom_corpus(open_page: Callable[..., Tab], tmp_path: Path) -> None:
    from qa_service.ingest import ingest_paths, write_corpus

    src = tmp_path / "src"
    src.mkdir()
    (src / "orchard.md").write_text(
        "# The Cider Orchards of Herefordshire\n\n"
        "Farmer Eleanor Whitcombe planted the first Kingston Black trees at Much Marcle in 1921. "
        "Eleanor Whitcombe pressed cider in a stone mill until 1958.\n\n"
        "Each October the village of Much Marcle holds a wassail. The orchard covers forty acres "
        "and sells its cider in Ledbury.\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    write_corpus(ingest_paths([src], 60), corpus, 60)
    own = Server(tmp_path, corpus=corpus).start()
    try:
        tab = open_page(base=own.base)
        chips = tab.page.locator("button.example")
        texts = chips.all_inner_texts()
        assert texts[0] == "What is this document about?", texts
        assert "What about Eleanor Whitcombe?" in texts and "What about Much Marcle?" in texts, texts
        chips.nth(texts.index("What about Eleanor Whitcombe?")).click()
        card = tab.wait_turn(1)
        expect(card.locator(".answer-text")).to_contain_text("Eleanor Whitcombe")
    finally:
        own.stop()


# ---------------------------------------------------------------- issue 14: documents added from the page

BUNDLED_TITLE = "Armenia withdraws envoy from Belarus due to escalating tensions with Russia"
LIGHTHOUSE = (
    "# The Lighthouse of Vardø Skerry\n\n"
    "The Vardø Skerry lighthouse was built in 1887 by the engineer Ingrid Halvorsen. "
    "Its lamp was first lit on the night of 14 March 1888.\n\n"
    "The keeper Tobias Lund lived in the tower for thirty-one years.\n"
)
LIGHTHOUSE_QUESTION = "Who built the Vardø Skerry lighthouse?"


def _open_library(tab: Tab) -> Locator:
    """Opens "Add or remove documents" and waits for the list."""
    panel = tab.page.locator("details#library")
    panel.locator("summary").click()
    expect(panel).to_have_attribute("open", "")
    expect(panel.locator(".library-item").first).to_be_visible()
    return panel


def _item(panel: Locator, title: str | re.Pattern[str]) -> Locator:
    """The row of the document with this title in the list."""
    wanted = title if isinstance(title, re.Pattern) else re.compile("^" + re.escape(title) + "$")
    return panel.locator(".library-item").filter(has=panel.page.locator(".library-title", has_text=wanted))


def _lighthouse(tab: Tab, panel: Locator) -> Locator:
    """Adds the lighthouse note through the file picker; its row in the list."""
    tab.page.locator("#upload-input").set_input_files(
        {"name": "lighthouse.md", "mimeType": "text/markdown", "buffer": LIGHTHOUSE.encode()})
    expect(panel.locator("#upload-status")).to_have_text(re.compile(r"from lighthouse\.md\.$"))
    row = _item(panel, "The Lighthouse of Vardø Skerry")
    expect(row).to_have_count(1)
    return row


def test_add_a_document_ask_it_then_remove_it(open_page: Callable[..., Tab], uploads: Server,
                                               tmp_path: Path) -> None:
    tab = open_page(base=uploads.base)
    page = tab.page
    panel = _open_library(tab)
    expect(panel.locator(".library-item")).to_have_count(1)
    expect(panel.locator(".library-item .remove")).to_have_count(0)  # the last document stays
    expect(panel.locator(".library-note")).to_contain_text("cannot be removed")
    picker = page.get_by_label("Choose files…")
    expect(picker).to_have_attribute("type", "file")
    expect(picker).to_have_attribute("multiple", "")
    # The picker is the next stop after the panel's summary, and its button shows the focus.
    panel.locator("summary").focus()
    page.keyboard.press("Tab")
    expect(picker).to_be_focused()
    assert page.evaluate("""() => { const s = getComputedStyle(document.querySelector('label.file-button'));
                                    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }""")

    note = tmp_path / "lighthouse.md"
    note.write_text(LIGHTHOUSE, encoding="utf-8")
    picker.set_input_files(note)
    status = panel.locator("#upload-status")
    expect(status).to_have_text(re.compile(r"^(\d+) passages? from lighthouse\.md\.$"))
    expect(status).to_have_attribute("data-state", "done")
    passages = int(status.inner_text().split()[0])
    added = _item(panel, "The Lighthouse of Vardø Skerry")
    expect(added.locator(".library-meta")).to_have_text(re.compile(  # Markdown once the reader tells it apart
        rf"^lighthouse\.md · (Text|Markdown) · {passages} passage{'s' if passages != 1 else ''}$"))
    expect(panel.locator(".library-item")).to_have_count(2)
    expect(_item(panel, BUNDLED_TITLE).locator(".library-meta")).to_have_text(
        "armenia-recalls-envoy-from-belarus.txt · Text · 13 passages")
    expect(page.locator(".site-title")).to_have_text("2 documents")
    expect(page.locator(".documents-line .document-name")).to_have_text([BUNDLED_TITLE,
                                                                         "The Lighthouse of Vardø Skerry"])
    expect(page).to_have_title("2 documents · qa-service")
    expect(page.locator("#upload-progress-row")).to_be_hidden()

    card = tab.ask(LIGHTHOUSE_QUESTION, 1)
    expect(card).to_have_class(re.compile(r"\banswer\b"))
    expect(card.locator(".answer-text")).to_contain_text("Ingrid Halvorsen")
    expect(card.locator(".sources-doc")).to_contain_text("The Lighthouse of Vardø Skerry")

    # Removing asks for a second press; unconfirmed, the button goes back to "Remove".
    remove = added.locator("button.remove")
    expect(remove).to_have_accessible_name("Remove “The Lighthouse of Vardø Skerry”")
    remove.click()
    expect(remove).to_have_accessible_name("Confirm remove “The Lighthouse of Vardø Skerry”")
    expect(remove).to_have_accessible_name("Remove “The Lighthouse of Vardø Skerry”", timeout=8_000)
    assert len(_document_ids(uploads)) == 2
    # From the keyboard: Enter, then Enter again.
    remove.focus()
    page.keyboard.press("Enter")
    expect(remove).to_have_accessible_name("Confirm remove “The Lighthouse of Vardø Skerry”")
    expect(panel.locator("#library-status")).to_contain_text("again to remove")
    assert len(_document_ids(uploads)) == 2  # nothing removed yet
    page.keyboard.press("Enter")
    expect(panel.locator("#library-status")).to_have_text("Removed “The Lighthouse of Vardø Skerry” (lighthouse.md).")
    expect(panel.locator(".library-item")).to_have_count(1)
    expect(panel.locator("#library-list-title")).to_be_focused()  # not lost with the removed row
    expect(page.locator(".site-title")).to_have_text(BUNDLED_TITLE)
    expect(page.locator(".documents-line")).to_have_text("Answers come from this document only.")
    assert _document_ids(uploads) == ["armenia-recalls-envoy-from-belarus"]

    card = tab.ask(LIGHTHOUSE_QUESTION, 2)
    expect(card).to_have_class(re.compile(r"\bnot-found\b"))
    expect(card.locator(".card-label")).to_have_text("Not in the document")
    expect(card.locator(".answer-text")).to_have_count(0)


def test_a_file_dropped_on_the_page_is_added(open_page: Callable[..., Tab], uploads: Server) -> None:
    tab = open_page(base=uploads.base)
    page = tab.page
    panel = page.locator("details#library")
    expect(panel).not_to_have_attribute("open", "")
    text = ("# Mount Kessara\n\nMount Kessara is a shield volcano on the island of Tolven. "
            "Its last eruption, in 1794, buried the harbour town of Saint Eyra under ash.\n")
    # Files dragged over the page open the panel and light the zone up; dropped, they are added.
    page.evaluate("""(text) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], 'kessara.md', {type: 'text/markdown'}));
        window.__transfer = transfer;
        document.querySelector('main').dispatchEvent(
            new DragEvent('dragenter', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", text)
    expect(panel).to_have_attribute("open", "")
    expect(page.locator("#drop-zone")).to_have_class(re.compile(r"\bdragging\b"))
    page.evaluate("""() => document.querySelector('main').dispatchEvent(
        new DragEvent('drop', {dataTransfer: window.__transfer, bubbles: true, cancelable: true}))""")
    expect(page.locator("#drop-zone")).not_to_have_class(re.compile(r"\bdragging\b"))
    expect(panel.locator("#upload-status")).to_have_text(re.compile(r"^\d+ passages? from kessara\.md\.$"))
    expect(_item(panel, "Mount Kessara")).to_have_count(1)
    expect(page.locator(".site-title")).to_have_text("2 documents")
    assert "kessara" in _document_ids(uploads)
    card = tab.ask("Which town did the eruption bury under ash?", 1)
    expect(card.locator(".answer-text")).to_contain_text("buried the harbour town of Saint Eyra")


def _tide_log(entries: int) -> str:
    """A made-up log, long enough to be a few hundred passages."""
    return "Tide gauge log of Hollow Reef\n\n" + "\n\n".join(
        f"Entry {i}: the tide gauge at Hollow Reef read {i % 7}.{i % 10} metres on day {i} of the survey, "
        f"and the keeper noted calm water near marker {i % 40}." for i in range(1, entries + 1)) + "\n"


def test_questions_asked_during_an_upload_are_all_answered(open_page: Callable[..., Tab], uploads: Server,
                                                           tmp_path: Path) -> None:
    tab = open_page(base=uploads.base)
    page = tab.page
    panel = _open_library(tab)
    held: list[Any] = []

    def hold_uploads(route) -> None:  # noqa: ANN001 - the upload waits until the questions are answered
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/documents", hold_uploads)
    log = tmp_path / "tide-log.txt"
    log.write_text(_tide_log(200), encoding="utf-8")
    page.locator("#upload-input").set_input_files(log)
    status = panel.locator("#upload-status")
    expect(status).to_have_attribute("data-state", "busy")
    expect(page.locator("#upload-progress-row")).to_be_visible()
    expect(page.locator("#upload-input")).to_be_disabled()
    deadline = time.monotonic() + WAIT_MS / 1000
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    assert held, "the upload was never sent"

    # While it is in flight: the chat answers, and so do several questions at once from the page.
    card = tab.ask("How much does Armenia owe the CSTO?", 1)
    expect(card.locator(".answer-span")).to_have_text("$598,000")
    answered = page.evaluate("""(questions) => Promise.all(questions.map(q => fetch('/api/ask', {
        method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({question: q})
    }).then(r => r.json().then(body => ({status: r.status, answer: body.answer && body.answer.text})))))""",
                             ["How much does Armenia owe the CSTO?", "Who is Tigran Ter-Margaryan?",
                              "When did Pashinyan announce that Armenia would leave the CSTO?",
                              "why did Armenia recall its envoy?"])
    assert [a["status"] for a in answered] == [200] * 4 and all(a["answer"] for a in answered), answered
    expect(status).to_have_attribute("data-state", "busy")  # still uploading

    # And while the server reads it in, a program's questions are answered too.
    results: list[tuple[int, bool]] = []
    stop = threading.Event()

    def keep_asking() -> None:
        url = uploads.base + "/api/ask?q=" + urllib.parse.quote("How much does Armenia owe the CSTO?")
        while True:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    results.append((response.status, json.loads(response.read())["answer"] is not None))
            except urllib.error.HTTPError as error:
                results.append((error.code, False))
            except OSError:
                results.append((0, False))
            if stop.wait(0.05):  # a steady stream, not a flood that starves the build it overlaps
                return

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    held[0].continue_()
    expect(status).to_have_text(re.compile(r"^\d{2,3} passages from tide-log\.txt\.$"), timeout=30_000)
    stop.set()
    asker.join(timeout=30)
    assert results and all(r == (200, True) for r in results), results
    page.unroute("**/api/documents")
    expect(_item(panel, re.compile("Tide gauge log"))).to_have_count(1)


def test_an_upload_the_server_refuses_changes_nothing(open_page: Callable[..., Tab], uploads: Server) -> None:
    tab = open_page(base=uploads.base)
    tab.expected_console = re.compile(r"status of 4\d\d")  # Chromium logs the refused upload itself
    page = tab.page
    panel = _open_library(tab)
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/api/documents") and posts.append(r.url))
    status = panel.locator("#upload-status")

    # The page's own checks of the server's limits: nothing is sent.
    picker = page.locator("#upload-input")
    picker.set_input_files([{"name": f"note-{i}.txt", "mimeType": "text/plain", "buffer": b"A note."}
                            for i in range(UPLOAD_MAX_FILES + 1)])
    expect(status).to_have_text(f"{UPLOAD_MAX_FILES + 1} files chosen: at most {UPLOAD_MAX_FILES} can be added "
                                "at a time.")
    expect(status).to_have_attribute("data-state", "error")
    picker.set_input_files({"name": "huge.txt", "mimeType": "text/plain",
                            "buffer": b"word " * (UPLOAD_MAX_MB * 1024 * 1024 // 5 + 1)})
    expect(status).to_have_text(f"huge.txt is larger than {UPLOAD_MAX_MB} MiB, the most one file may be.")
    assert posts == []

    # A file the server cannot read: its message, naming the file, and the list as it was.
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/documents")) as info:
        picker.set_input_files({"name": "junk.pdf", "mimeType": "application/pdf",
                                "buffer": bytes(range(256)) * 8})
    refusal = info.value
    assert refusal.status in (415, 422), refusal.status
    message = refusal.json()["error"]["message"]
    assert message.startswith("junk.pdf: "), message
    expect(status).to_have_text(message)
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_have_attribute("role", "status")
    expect(panel.locator(".library-item")).to_have_count(1)
    expect(page.locator(".site-title")).to_have_text(BUNDLED_TITLE)
    assert _document_ids(uploads) == ["armenia-recalls-envoy-from-belarus"]
    expect(picker).to_be_enabled()  # and another file can be added
    assert len(posts) == 1


def test_the_list_shows_pages_when_a_document_has_them(open_page: Callable[..., Tab], uploads: Server) -> None:
    def as_a_pdf(route) -> None:  # noqa: ANN001 - the real list, its document as a PDF's would be listed
        body = route.fetch().json()
        body["documents"][0].update(kind="pdf", pages=12, source="report.pdf")
        route.fulfill(json=body)

    tab = open_page(base=uploads.base)
    tab.page.route("**/api/documents", as_a_pdf)
    tab.page.reload()
    panel = _open_library(tab)
    expect(panel.locator(".library-meta")).to_have_text(["report.pdf · PDF · 12 pages · 13 passages"])
    tab.page.unroute("**/api/documents")


def test_citations_show_the_page_when_the_passage_has_one(tab: Tab) -> None:
    page = tab.page

    def with_pages(route) -> None:  # noqa: ANN001 - the real answer, as a PDF's would be: passages with pages
        body = route.fetch().json()
        for n, passage in enumerate(body["passages"]):
            passage["page"] = 3
            if n == 1:
                passage["last_page"] = 4
        route.fulfill(json=body)

    page.route("**/api/ask", with_pages)
    card = tab.ask("How much does Armenia owe the CSTO?", 1)
    expect(card.locator("a.citation")).to_have_text(re.compile(r"^p\.\s3\s·\s¶\s\d+$"))
    labels = card.locator(".passage-label").all_inner_texts()
    assert re.fullmatch(r"pp\.\s3–4\s·\s¶\s\d+", labels[1]), labels
    assert all(re.fullmatch(r"pp?\.\s3(–4)?\s·\s¶\s\d+", label) for label in labels), labels
    card.locator("a.citation").click()
    current = page.locator("#document-view .doc-passage.current")
    expect(current.locator(".doc-label")).to_have_text(re.compile(r"^p\.\s3\s·\s¶\s\d+\s?$"))
    expect(current).to_have_attribute("aria-label", re.compile(r"^Cited passage p\. 3 · ¶ \d+$"))
    page.keyboard.press("Escape")
    page.unroute("**/api/ask")
    # without pages (a text file), the label is the paragraph alone, as before
    card = tab.ask("How much does Armenia owe the CSTO?", 2)
    expect(card.locator("a.citation")).to_have_text(re.compile(r"^¶\s\d+$"))


def test_without_uploads_the_page_offers_none(tab: Tab) -> None:
    page = tab.page
    listed = page.evaluate("fetch('/api/documents').then(r => r.json())")
    assert listed["uploads"]["enabled"] is False
    expect(page.locator("#library, #drop-zone, input[type=file]")).to_have_count(0)
    expect(page.get_by_text("Add or remove documents")).to_have_count(0)
    expect(page.locator(".site-title")).to_have_text(BUNDLED_TITLE)
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and "/api/documents" in r.url and posts.append(r.url))
    page.evaluate("""() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(['A note.'], 'note.txt', {type: 'text/plain'}));
        document.querySelector('main').dispatchEvent(
            new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""")
    card = tab.ask("How much does Armenia owe the CSTO?", 1)  # the chat works as ever
    expect(card.locator(".answer-span")).to_have_text("$598,000")
    assert posts == []
