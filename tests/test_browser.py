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
CARD = ".card.answer, .card.not-found, .card.error"

expect.set_options(timeout=WAIT_MS)


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m qa_service serve` over the bundled corpus, as a subprocess."""

    def __init__(self, log_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Server":
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        with self.log.open("a") as log:  # a file, not a pipe: the server can never block on its output
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qa_service", "serve", "--port", str(self.port), "--corpus", str(CORPUS)],
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
    assert "escalating tensions" in card.locator(".answer-text").inner_text()  # the headline gives the reason
    citation = card.locator("a.citation")
    expect(citation).to_have_count(1)
    expect(citation).to_have_attribute("href", re.compile(r"^#turn-1-passage-\d+$"))
    passages = card.locator("details.passage")
    assert 1 <= passages.count() <= 3
    expect(card.locator("details.passage.cited")).to_have_count(1)
    expect(card.locator("details.passage.cited")).to_have_attribute("open", "")
    assert card.locator("details.passage.cited mark").count() >= 1
    for score in card.locator(".passage-score").all_inner_texts():
        assert re.fullmatch(r"score \d+\.\d\d", score), score
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


def test_phone_has_no_horizontal_scroll(open_page: Callable[..., Tab]) -> None:
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
    cited = card.locator("details.passage.cited")
    # Close the cited passage from the keyboard, then the citation must open it again.
    _tab_to(page, lambda i: i["tag"] == "summary" and i["cited"])
    page.keyboard.press("Enter")
    expect(cited).not_to_have_attribute("open", "")
    _tab_to(page, lambda i: "citation" in i["cls"], key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(cited).to_have_attribute("open", "")
    expect(cited.locator("summary")).to_be_focused()
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
def test_no_serious_accessibility_violations(open_page: Callable[..., Tab], color_scheme: str) -> None:
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


def test_screenshots_of_an_answered_conversation(open_page: Callable[..., Tab], tmp_path: Path) -> None:
    for name, options in [("desktop", {"viewport": DESKTOP}),
                          ("phone", {"viewport": PHONE, "is_mobile": True, "has_touch": True})]:
        tab = open_page(**options)
        tab.ask("why did Armenia recall its envoy?", 1)
        _wait_visible_above_composer(tab.page, "#turn-1 .answer-text")
        path = tmp_path / f"{name}.png"
        tab.page.screenshot(path=path, animations="disabled", caret="hide")
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
    expect(card.locator(".answer-text")).to_contain_text("escalating tensions")


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
