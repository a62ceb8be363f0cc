"""Saved web pages built from parts, each knowing its ground truth.

A page is an article (headline, byline, paragraphs, maybe a subheading, a data table and a
bulleted list) wrapped in the furniture people's saved pages carry: navigation, breadcrumb,
cookie banner, share buttons, newsletter box, comment thread, related links, ads, footer,
inline scripts and ``<noscript>``. Five markup families (semantic HTML5, div soup with telling
class names, div soup with hashed class names, a blog/CMS theme, an old table layout with
``<br>``-separated paragraphs and no classes) times six topics times two seeds give
:func:`build_pages`. :func:`score` says which article sentences and table rows an
extractor kept and which boilerplate lines it let through.

Used by ``tests/test_webpage.py`` and ``benchmarks/boilerplate.py``; nothing here is tuned to
one document, and the bundled seed article is not among the topics.
"""

from __future__ import annotations

import html
import random
import re
import zlib
from dataclasses import dataclass, field

FAMILIES = ("semantic", "div-soup", "hashed-classes", "blog-theme", "legacy-tables")
SEEDS = (1, 2)

# ---------------------------------------------------------------- articles


@dataclass(frozen=True)
class Article:
    topic: str
    headline: str
    byline: str  # neither article text nor boilerplate: scored by neither measure
    paragraphs: tuple[tuple[str, ...], ...]  # each a paragraph's sentences
    subheading: str = ""  # before the paragraph at index `split`
    split: int = 2
    table: tuple[tuple[str, ...], ...] = ()  # header row first
    caption: str = ""
    bullets: tuple[str, ...] = ()
    bullets_intro: str = ""


ARTICLES = (
    Article(
        topic="science",
        headline="Deep-sea survey finds coral reefs thriving below the bleaching zone",
        byline="By Amara Okafor, Science correspondent | 14 March 2024",
        paragraphs=(
            ("Marine biologists have mapped a chain of healthy coral reefs more than 60 metres below the surface of the Coral Sea.",
             "The reefs sit beneath the warm upper layer where most bleaching happens."),
            ("The team used a remotely operated vehicle to film the reefs over six weeks.",
             "They counted more than 200 species of fish, including several never recorded in the region.",
             "Water temperatures at that depth stayed four degrees cooler than at the surface."),
            ("Scientists call these deeper habitats mesophotic reefs, from the Greek for middle light.",
             "Sunlight still reaches them, but only faintly, so the corals grow slowly and flatten into plates."),
            ("The researchers warn that the deeper reefs are not a refuge for every species.",
             "Many shallow corals cannot survive in such dim light, and trawling still damages some sites."),
            ("The survey results will be shared with the marine park authority next month.",
             "Funding for a second expedition has already been approved."),
        ),
        subheading="A cooler world below",
        split=2,
        table=(("Depth", "Coral cover", "Fish species"),
               ("30 m", "18%", "142"), ("60 m", "41%", "207"), ("90 m", "35%", "96")),
        caption="Survey counts by depth",
    ),
    Article(
        topic="sport",
        headline="Underdogs win the cup final after a late penalty save",
        byline="Tom Reilly | Sunday 5 May 2024, 21:40",
        paragraphs=(
            ("Harbour Town won their first cup in ninety years on Sunday, beating the league champions 2-1 in front of 38,000 fans.",
             "Their goalkeeper saved a penalty in the final minute of added time."),
            ("The champions had taken the lead through a header after twelve minutes.",
             "Harbour Town equalised just before half-time when a long throw was bundled over the line."),
            ("The winning goal came from the youngest player on the pitch, a 19-year-old midfielder.",
             "He curled the ball into the top corner from the edge of the area with twenty minutes left."),
            ("The manager said the squad had been written off by everyone before the tournament began.",
             "He dedicated the trophy to the volunteers who keep the club's small stadium running."),
        ),
        subheading="How the final unfolded",
        split=1,
        table=(("Team", "Shots", "On target", "Possession"),
               ("Harbour Town", "9", "4", "38%"), ("City Rovers", "17", "6", "62%")),
        bullets=("Harbour Town last reached the final in 1987.",
                 "The attendance was the highest for a final in a decade.",
                 "The penalty save was the goalkeeper's third of the competition."),
        bullets_intro="Key facts from the final:",
    ),
    Article(
        topic="cooking",
        headline="A simple loaf of sourdough bread for beginners",
        byline="Recipe by Lucia Ferrante, published 2 February 2024",
        paragraphs=(
            ("Sourdough needs only flour, water and salt, but it asks for patience.",
             "The starter does the work that commercial yeast does in other breads."),
            ("Feed your starter the evening before you bake so that it is bubbly and active in the morning.",
             "A spoonful dropped into water should float when it is ready."),
            ("Mix the flour and water first and let them rest for an hour before adding the starter and salt.",
             "This rest, called the autolyse, makes the dough easier to stretch."),
            ("Bake the loaf in a covered pot at 250 degrees for twenty minutes, then uncover it for another twenty-five.",
             "Let it cool for at least an hour before slicing, or the crumb will be gummy."),
        ),
        subheading="Method",
        split=1,
        bullets=("500 g strong white flour", "350 g water", "100 g active starter", "10 g fine salt"),
        bullets_intro="You will need:",
    ),
    Article(
        topic="finance",
        headline="Central bank holds interest rates as inflation cools",
        byline="By Priya Raman, Economics editor, 20 June 2024",
        paragraphs=(
            ("The central bank kept its main interest rate at 4.5 percent on Thursday for the fourth meeting in a row.",
             "Seven of the nine committee members voted to hold."),
            ("Inflation fell to 2.8 percent in May, its lowest level in three years.",
             "Lower energy prices did most of the work, while services inflation stayed stubborn."),
            ("Two members voted for a quarter-point cut, arguing that the labour market was already cooling.",
             "The governor said a cut in the autumn was possible but not promised."),
            ("Mortgage lenders had already priced in a cut, so fixed-rate deals are unlikely to change this week.",
             "Savers will continue to earn the best rates in more than a decade."),
        ),
        subheading="What it means for households",
        split=3,
        table=(("Month", "Inflation", "Bank rate"),
               ("March", "3.2%", "4.5%"), ("April", "3.0%", "4.5%"), ("May", "2.8%", "4.5%")),
        caption="Inflation and the bank rate this spring",
    ),
    Article(
        topic="history",
        headline="Archive letters shed new light on the building of the old canal",
        byline="Helen Marsh | Heritage | 9 September 2023",
        paragraphs=(
            ("A box of letters found in a county archive shows how the canal was dug almost entirely by hand between 1792 and 1799.",
             "The letters were written by the engineer in charge to his brother."),
            ("He describes gangs of up to four hundred labourers working through the winter.",
             "Floods twice destroyed a finished section, and the company nearly went bankrupt in 1796."),
            ("The canal carried coal and lime until the railway arrived in the 1840s.",
             "Its trade then collapsed within twenty years, and parts of it were filled in."),
            ("Volunteers have restored eleven miles of the route since the 1970s.",
             "The archive plans to publish the letters online next year."),
        ),
        bullets=("The canal is 23 miles long and has 41 locks.",
                 "Its highest point is a tunnel nearly a mile long.",
                 "The last commercial boat passed through in 1911."),
        bullets_intro="The canal in numbers:",
    ),
    Article(
        topic="technology",
        headline="Town replaces its streetlights with sensors that dim when streets are empty",
        byline="Written by Jonas Berg on 11 November 2024",
        paragraphs=(
            ("A small town has finished replacing all 3,200 of its streetlights with LED lamps that dim when nobody is nearby.",
             "Each lamp brightens again when a motion sensor sees a pedestrian, cyclist or car."),
            ("The council expects the lights to use seventy percent less electricity than the old sodium lamps.",
             "The project cost 2.1 million and should pay for itself within eight years."),
            ("Residents were asked to report problems during a three-month trial on two streets.",
             "Most complaints were about lamps that reacted too slowly on corners."),
            ("Astronomers at a nearby observatory welcomed the change.",
             "They say the darker sky has already made faint galaxies easier to photograph."),
        ),
        subheading="Lessons from the trial",
        split=2,
        table=(("Lamp type", "Power", "Lifetime"),
               ("Sodium", "150 W", "4 years"), ("LED, dimmed", "25 W", "12 years"), ("LED, full", "60 W", "12 years")),
        caption="Old and new lamps compared",
    ),
)

# ---------------------------------------------------------------- boilerplate parts

NAV_ITEMS = ("Home", "World", "Business", "Science", "Sport", "Culture", "Opinion", "Podcasts", "Travel",
             "Video", "Weather", "Newsletters")
RELATED = (
    "Ten things we learned from the spring conference",
    "Why city parks are getting wilder every year",
    "The quiet return of the night train across Europe",
    "Inside the workshop that still makes wooden boats",
    "Five charts that explain the housing market",
    "How a village saved its last shop",
    "The scientists listening to whales from space",
    "What to cook when the cupboard is almost bare",
)
COMMENTS = (
    ("riverwatcher", "This is exactly the kind of reporting we need more of. Thank you for explaining it so clearly."),
    ("J. Patel", "I visited last summer and had no idea about any of this. Fascinating read!"),
    ("old_sceptic", "I'm not convinced the numbers add up. Where does the money for the second phase come from?"),
    ("Maria G.", "My grandfather worked there for thirty years and he always said the same thing. It is good to see it written down at last."),
    ("northern_lights", "Great article, but the photo caption in the second section seems to be wrong."),
    ("Ben", "Does anyone know whether the report will be published in full? I would like to read the details."),
)
COOKIE = ("We use cookies to improve your experience on our site and to show you relevant advertising.",
          "By continuing to browse, you agree to our use of cookies.")
COOKIE_BUTTONS = ("Accept all", "Manage preferences")
SHARE = ("Share on Facebook", "Tweet", "Copy link", "Share via email")
NEWSLETTER = ("Get the best stories in your inbox",
              "Sign up for our free weekly newsletter and never miss a story.")
NEWSLETTER_BUTTON = "Sign up"
FOOTER = ("About us", "Contact", "Privacy policy", "Terms of use", "Careers")
COPYRIGHT = "© 2024 The Daily Example Ltd. All rights reserved."
ADS = ("Advertisement", "Sponsored: Save 30% on noise-cancelling headphones this week only.")
NOSCRIPT = "Please enable JavaScript to view the comments powered by our discussion service."
SCRIPT = ("window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);} "
          "var promo = 'Subscribe today and read without limits';")
STYLE = ".banner{position:fixed;bottom:0} .share a{margin:0 4px}"

# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class Page:
    name: str
    family: str
    topic: str
    html: str
    headline: str
    byline: str  # scored by neither measure
    sentences: tuple[str, ...]  # article text: headline, subheading, sentences, list items
    rows: tuple[tuple[str, ...], ...]  # article table rows, each kept only with all its cells on one line
    boilerplate: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> lines

    @property
    def boilerplate_lines(self) -> list[tuple[str, str]]:
        return [(kind, line) for kind, lines in self.boilerplate.items() for line in lines]


def _e(text: str) -> str:
    return html.escape(text, quote=False)


class _Parts:
    """The HTML of each part in one markup family, and the boilerplate lines it shows."""

    def __init__(self, family: str, rng: random.Random) -> None:
        self.family = family
        self.rng = rng
        self.truth: dict[str, list[str]] = {}

    def cls(self, meaning: str) -> str:
        """A class attribute: telling in most families, a build-tool hash in hashed-classes."""
        if self.family == "legacy-tables":
            return ""
        if self.family == "hashed-classes":
            return f' class="css-{zlib.crc32(meaning.encode()) % 0xFFFFF:05x} sc-{len(meaning) * 7919 % 9973:x}"'
        return f' class="{meaning}"'

    def note(self, kind: str, *lines: str) -> None:
        self.truth.setdefault(kind, []).extend(lines)

    def links(self, items: tuple[str, ...] | list[str], meaning: str) -> str:
        lis = "\n".join(f'    <li><a href="/{i}">{_e(t)}</a></li>' for i, t in enumerate(items))
        return f"  <ul{self.cls(meaning)}>\n{lis}\n  </ul>"

    def nav(self) -> str:
        items = list(NAV_ITEMS[:2]) + self.rng.sample(NAV_ITEMS[2:], 6)
        self.note("navigation", *items)
        skip = '<a href="#main"' + self.cls("skip-link") + ">Skip to content</a>\n"
        self.note("navigation", "Skip to content")
        logo = f'<a href="/"{self.cls("logo")}>The Daily Example</a>'
        self.note("navigation", "The Daily Example")
        inner = f"{skip}{logo}\n{self.links(items, 'menu')}"
        if self.family == "semantic":
            return f"<header>\n<nav>\n{inner}\n</nav>\n</header>"
        return f"<div{self.cls('site-header')}>\n<div{self.cls('navigation')}>\n{inner}\n</div>\n</div>"

    def breadcrumb(self, topic: str) -> str:
        crumbs = ["Home", topic.capitalize(), "Features"]
        self.note("breadcrumb", *crumbs)
        sep = " <span>›</span> "
        tag = "nav" if self.family == "semantic" else "div"
        return f'<{tag}{self.cls("breadcrumb")}>' + sep.join(f'<a href="/{c}">{_e(c)}</a>' for c in crumbs) + f"</{tag}>"

    def cookie(self) -> str:
        self.note("cookie banner", *COOKIE, *COOKIE_BUTTONS)
        buttons = "".join(f"<button>{_e(b)}</button>" for b in COOKIE_BUTTONS)
        text = " ".join(COOKIE)
        if self.family == "hashed-classes":  # the banner as a paragraph, as some consent tools do
            return f'<div{self.cls("consent")}><p>{_e(text)}</p>{buttons}</div>'
        ident = "" if self.family == "legacy-tables" else ' id="cookie-banner"'
        return f'<div{ident}{self.cls("cookie-consent")}><p>{_e(text)}</p>\n<div>{buttons}</div></div>'

    def share(self) -> str:
        self.note("share buttons", *SHARE)
        return f"<div{self.cls('share-buttons')}>\n{self.links(SHARE, 'share')}\n</div>"

    def newsletter(self) -> str:
        self.note("newsletter", *NEWSLETTER, NEWSLETTER_BUTTON)
        heading, blurb = NEWSLETTER
        form = (f'<form action="/subscribe"><input type="email" placeholder="Your email address">'
                f"<button>{NEWSLETTER_BUTTON}</button></form>")
        if self.family == "hashed-classes":
            form = f'<div><input type="email"><a href="/subscribe">{NEWSLETTER_BUTTON}</a></div>'
        return f"<div{self.cls('newsletter-signup')}>\n<h3>{_e(heading)}</h3>\n<p>{_e(blurb)}</p>\n{form}\n</div>"

    def comments(self) -> str:
        chosen = self.rng.sample(COMMENTS, self.rng.randint(3, 5))
        heading = f"{len(chosen)} comments"
        self.note("comments", heading)
        items = []
        for n, (who, said) in enumerate(chosen):
            when = f"{n + 2} hours ago"
            self.note("comments", who, when, said, "Reply")
            if self.family == "blog-theme":
                self.note("comments", "says:")
                items.append(f'<li class="comment" id="comment-{n}"><div class="comment-author vcard">'
                             f'<cite class="fn">{_e(who)}</cite> <span class="says">says:</span></div>'
                             f'<div class="comment-meta">{when}</div><p>{_e(said)}</p>'
                             f'<div class="reply"><a href="#respond">Reply</a></div></li>')
            else:
                items.append(f"<div{self.cls('comment')}><div{self.cls('comment-author')}>{_e(who)}</div>"
                             f"<div{self.cls('comment-time')}>{when}</div><p>{_e(said)}</p>"
                             f"<span>Reply</span> <span>Like</span></div>")
                self.note("comments", "Like")
        if self.family == "blog-theme":
            body = '<ol class="comment-list">\n' + "\n".join(items) + "\n</ol>"
            return (f'<div id="comments" class="comments-area">\n<h2 class="comments-title">{heading}</h2>\n'
                    f"{body}\n<noscript>{_e(NOSCRIPT)}</noscript>\n</div>")
        tag = "section" if self.family == "semantic" else "div"
        ident = "" if self.family == "legacy-tables" else ' id="comments"'
        return (f'<{tag}{ident}{self.cls("comments")}>\n<h2>{heading}</h2>\n' + "\n".join(items)
                + f"\n<noscript>{_e(NOSCRIPT)}</noscript>\n</{tag}>")

    def related(self, topic: str) -> str:
        chosen = self.rng.sample(RELATED, 4)
        heading = self.rng.choice(("Related articles", f"More from {topic.capitalize()}", "You may also like"))
        self.note("related links", heading, *chosen)
        tag = "aside" if self.family == "semantic" else "div"
        return f"<{tag}{self.cls('related-posts')}>\n<h3>{_e(heading)}</h3>\n{self.links(chosen, 'related-list')}\n</{tag}>"

    def ad(self, which: int) -> str:
        label, pitch = ADS
        self.note("ads", label)
        if which:
            self.note("ads", pitch)
            return (f'<div{self.cls("ad-slot")}><span>{label}</span><a href="/promo"><p>{_e(pitch)}</p></a>'
                    f'<script>googletag.cmd.push(function(){{googletag.display("ad-{which}");}});</script></div>')
        return f'<div{self.cls("advert")}><span>{label}</span><iframe src="about:blank"></iframe></div>'

    def footer(self) -> str:
        self.note("footer", *FOOTER, COPYRIGHT)
        inner = f"{self.links(FOOTER, 'footer-links')}\n<p>{_e(COPYRIGHT)}</p>"
        if self.family == "semantic":
            return f"<footer>\n{inner}\n</footer>"
        return f"<div{self.cls('site-footer')}>\n{inner}\n</div>"


def _article_html(article: Article, parts: _Parts, sentences: list[str], rows: list[tuple[str, ...]],
                  rng: random.Random) -> tuple[str, str]:
    """(header: headline and byline, body) of the article in the family's markup."""
    family = parts.family
    para_tag = "div" if family == "hashed-classes" else "p"
    sentences.append(article.headline)
    header = (f"<h1{parts.cls('entry-title')}>{_e(article.headline)}</h1>\n"
              f"<div{parts.cls('byline')}>{_e(article.byline)}</div>")
    if family == "legacy-tables":
        header = f'<font size="5"><b>{_e(article.headline)}</b></font><br>\n<i>{_e(article.byline)}</i><br><br>'
    legacy = family == "legacy-tables"
    body: list[str] = []
    extras = []
    if article.table:
        extras.append("table")
    if article.bullets:
        extras.append("bullets")
    where = {extra: rng.randint(1, len(article.paragraphs) - 1) for extra in extras}
    for i, para in enumerate(article.paragraphs):
        if article.subheading and i == article.split:
            body.append(f"<b>{_e(article.subheading)}</b><br>" if legacy else f"<h2>{_e(article.subheading)}</h2>")
            sentences.append(article.subheading)
        if where.get("table") == i:
            head, *data = article.table
            cells = "".join(f"<th>{_e(c)}</th>" for c in head)
            trs = "\n".join("  <tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in data)
            caption = f"<caption>{_e(article.caption)}</caption>\n" if article.caption else ""
            body.append(f"<table{parts.cls('data-table')}>\n{caption}<thead><tr>{cells}</tr></thead>\n<tbody>\n{trs}\n</tbody>\n</table>")
            rows.extend(article.table)
            if article.caption:
                sentences.append(article.caption)
        if where.get("bullets") == i:
            if article.bullets_intro:
                body.append(f"{_e(article.bullets_intro)}<br>" if legacy
                            else f"<{para_tag}>{_e(article.bullets_intro)}</{para_tag}>")
                sentences.append(article.bullets_intro)
            body.append("<ul>\n" + "\n".join(f"  <li>{_e(b)}</li>" for b in article.bullets) + "\n</ul>")
            sentences.extend(article.bullets)
        text = " ".join(para)
        if family == "div-soup" and i == 0:  # a lead paragraph in bold, as many sites do
            text_html = f"<strong>{_e(text)}</strong>"
        else:
            text_html = _e(text)
        body.append(f'<font face="Verdana">{text_html}</font><br><br>' if legacy
                    else f"<{para_tag}>{text_html}</{para_tag}>")
        sentences.extend(para)
    return header, "\n".join(body)


def build_page(article: Article, family: str, seed: int) -> Page:
    """One saved page: ``article`` in ``family`` markup with the furniture ``seed`` picks."""
    rng = random.Random(f"{article.topic}-{family}-{seed}")
    parts = _Parts(family, rng)
    sentences: list[str] = []
    rows: list[tuple[str, ...]] = []
    header, body = _article_html(article, parts, sentences, rows, rng)
    share = parts.share() if rng.random() < 0.85 else ""
    ad_inline = parts.ad(1) if rng.random() < 0.6 else ""
    if ad_inline:  # an ad between two paragraphs of the article
        blocks = body.split("\n<p>" if "\n<p>" in body else "\n<div>", 2)
        if len(blocks) == 3:
            glue = "\n<p>" if "\n<p>" in body else "\n<div>"
            body = blocks[0] + glue + blocks[1] + "\n" + ad_inline + glue + blocks[2]
        else:
            body += "\n" + ad_inline
    newsletter = parts.newsletter() if rng.random() < 0.8 else ""
    comments = parts.comments() if rng.random() < 0.85 else ""
    related = parts.related(article.topic)
    side_ad = parts.ad(0) if rng.random() < 0.6 else ""
    top = [parts.nav()]
    if rng.random() < 0.7:
        top.append(parts.breadcrumb(article.topic))
    cookie = parts.cookie() if rng.random() < 0.8 else ""
    footer = parts.footer()
    after = [newsletter, related, comments]
    rng.shuffle(after)

    head = (f"<meta charset=\"utf-8\">\n<title>{_e(article.headline)} | The Daily Example</title>\n"
            f'<meta property="og:title" content="{html.escape(article.headline)}">\n'
            f"<style>{STYLE}</style>\n<script>{SCRIPT}</script>")
    if family == "semantic":
        main = (f'<main id="main">\n<article>\n<header>\n{header}\n</header>\n{share}\n'
                f'<div class="article-body">\n{body}\n</div>\n</article>\n{chr(10).join(after)}\n</main>\n{side_ad}')
    elif family == "div-soup":
        main = (f'<div class="container">\n<div class="row">\n<div class="col-8 content">\n{header}\n{share}\n'
                f'<div class="post-body">\n{body}\n</div>\n{chr(10).join(after)}\n</div>\n'
                f'<div class="col-4 sidebar">\n{side_ad}\n</div>\n</div>\n</div>')
    elif family == "hashed-classes":
        main = (f"<div{parts.cls('layout')}>\n<div{parts.cls('column')}>\n{header}\n{share}\n<div{parts.cls('body')}>\n"
                f"{body}\n</div>\n{chr(10).join(after)}\n</div>\n<div{parts.cls('rail')}>\n{side_ad}\n</div>\n</div>")
    elif family == "legacy-tables":
        top = [f'<table width="100%"><tr><td>{chr(10).join(top)}</td></tr></table>']
        main = (f'<table width="100%" cellpadding="4">\n<tr><td width="180" valign="top">{side_ad}</td>\n'
                f'<td valign="top">\n{header}\n{share}\n{body}\n<hr>\n{chr(10).join(after)}\n</td></tr>\n</table>')
    else:
        main = (f'<div id="page" class="site">\n<div id="content" class="site-content">\n'
                f'<div id="primary" class="content-area">\n<article class="post type-post hentry">\n'
                f'<header class="entry-header">\n{header}\n</header>\n<div class="entry-content">\n{body}\n{share}\n</div>\n'
                f'</article>\n{chr(10).join(after)}\n</div>\n<div id="secondary" class="widget-area">\n{side_ad}\n</div>\n</div>\n</div>')
    page_html = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n{head}\n</head>\n<body>\n{cookie}\n"
                 f"{chr(10).join(top)}\n{main}\n{footer}\n<script>window.__STATE__ = {{\"page\": 1}};</script>\n</body>\n</html>\n")
    return Page(
        name=f"{family}-{article.topic}-{seed}",
        family=family,
        topic=article.topic,
        html=page_html,
        headline=article.headline,
        byline=article.byline,
        sentences=tuple(sentences),
        rows=tuple(rows),
        boilerplate={kind: tuple(lines) for kind, lines in parts.truth.items()},
    )


def build_pages() -> list[Page]:
    """Every family x topic x seed: 60 pages, the same on every run."""
    return [build_page(article, family, seed) for family in FAMILIES for article in ARTICLES for seed in SEEDS]


# ---------------------------------------------------------------- scoring


def _norm(text: str) -> str:
    return " ".join(text.replace("|", " ").casefold().split())


@dataclass
class Score:
    """What one extractor kept of one page."""

    sentences_kept: int = 0
    sentences: int = 0
    rows_kept: int = 0
    rows: int = 0
    dropped: dict[str, list[int]] = field(default_factory=dict)  # kind -> [dropped, total]
    title_right: bool = False
    kept_junk: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return (self.sentences_kept + self.rows_kept) / max(1, self.sentences + self.rows)

    @property
    def drop(self) -> float:
        total = sum(t for _, t in self.dropped.values())
        return sum(d for d, _ in self.dropped.values()) / max(1, total)


def score(page: Page, title: str, lines: list[str]) -> Score:
    """Which article units ``title`` + ``lines`` keep and which boilerplate lines they drop.

    A sentence is kept when it appears whole (case and spacing aside) in the output; a table
    row when all its cells appear in order on one output line. What is left once the article is
    taken out is searched for each boilerplate line, longest first, each match used once (so
    "Sport" in a menu is not found inside a related headline about sport).
    """
    out_lines = [_norm(line) for line in [title, *lines] if line.strip()]
    rest = "\n".join(out_lines)
    result = Score(sentences=len(page.sentences), rows=len(page.rows),
                   title_right=_norm(title) == _norm(page.headline))
    for sentence in sorted(page.sentences, key=len, reverse=True):
        key = _norm(sentence)
        if key in rest:
            result.sentences_kept += 1
            rest = rest.replace(key, "\n", 1)
        else:
            result.lost.append(sentence)
    rest = rest.replace(_norm(page.byline), "\n")
    for row in page.rows:
        cells = [re.escape(_norm(c)) for c in row]
        pattern = re.compile(r"(?<!\w)" + r"\W+".join(cells) + r"(?!\w)") if len(cells) > 1 else None
        found = pattern and next((line for line in out_lines if pattern.search(line)), None)
        if found:
            result.rows_kept += 1
        else:
            result.lost.append(" | ".join(row))
    for kind, line in sorted(page.boilerplate_lines, key=lambda kl: len(kl[1]), reverse=True):
        tally = result.dropped.setdefault(kind, [0, 0])
        tally[1] += 1
        match = re.search(r"(?<!\w)" + re.escape(_norm(line)) + r"(?!\w)", rest)
        if match:
            rest = rest[: match.start()] + "\n" + rest[match.end():]
            result.kept_junk.append(line)
        else:
            tally[0] += 1
    return result
