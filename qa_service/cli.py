"""The command line: ``index``, ``serve``, ``reload``, ``ask`` and ``eval``, thin wrappers over the library.

Every error of ours (:class:`QAError`) is one line on stderr and exit status 1; anything
else is a bug, and shows as one.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .config import SETTINGS, Settings, load_settings
from .errors import EvalError, QAError, SettingsError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like argparse, minus the usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_settings(parser: argparse.ArgumentParser, command: str) -> None:
    """A flag for every setting the command takes, as :data:`SETTINGS` says."""
    for setting in SETTINGS:
        if command in setting.commands:
            default = "bundled corpus/" if setting.name == "corpus" else "none" if setting.default is None else setting.default
            on_off = {"nargs": "?", "const": "true"} if setting.type is bool else {}  # `--allow-uploads` alone means true
            parser.add_argument(setting.flag, dest=setting.name, default=None, metavar=setting.name.upper(), **on_off,
                                help=f"{setting.help} (default: {default}; {setting.rule}; env {setting.env})")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qa-service", description="Ask questions about documents; answers come with their source.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    index = commands.add_parser("index", help="prepare a corpus folder from .txt, .md, .html, .pdf or .docx documents")
    index.add_argument("sources", nargs="+", type=Path, metavar="SRC", help="source files or folders")
    index.add_argument("--out", type=Path, required=True, help="folder to write the corpus to")
    _add_settings(index, "index")

    serve = commands.add_parser("serve", help="serve the chat page and the JSON API with waitress "
                                "(SIGHUP reloads the corpus folder)")
    _add_settings(serve, "serve")

    reload = commands.add_parser("reload", help="make the server on --host/--port load its corpus folder again "
                                 "(it keeps serving meanwhile, and keeps the old corpus if the new one is broken)")
    _add_settings(reload, "reload")

    add = commands.add_parser("add", help="add documents (PDF, .docx, HTML, Markdown, text) to a corpus folder: "
                              "only they are read, tokenised and embedded; a running server takes them at its "
                              "next reload (SIGHUP, `qa-service reload`)")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files to add")
    _add_settings(add, "add")

    remove = commands.add_parser("remove", help="remove documents from a corpus folder, by id "
                                 "(`qa-service ask` and /api/documents list them)")
    remove.add_argument("ids", nargs="+", metavar="ID", help="document ids")
    _add_settings(remove, "remove")

    ask = commands.add_parser("ask", help="answer a question in the terminal; without one, chat (Ctrl-D leaves)")
    ask.add_argument("question", nargs="?", help="the question (leave it out to chat: one question a line)")
    ask.add_argument("--history", action="append", default=[], metavar="QUESTION",
                     help="an earlier question of the conversation (repeat, oldest first)")
    ask.add_argument("--json", action="store_true", help="print the same JSON as the API")
    _add_settings(ask, "ask")
    ev = commands.add_parser("eval", help="measure answer quality on a question set")
    ev.add_argument("--questions", type=Path, metavar="FILE",
                    help="question set, JSON Lines (default: questions.jsonl in the corpus folder)")
    ev.add_argument("--squad", type=Path, metavar="FILE", help="evaluate on a SQuAD v1.1/v2.0 JSON file instead")
    ev.add_argument("--pool", choices=("article", "global"), default="article",
                    help="with --squad: rank within each article (default) or across all of them")
    ev.add_argument("--k", default="1,3,5,10", metavar="K,K,...", help="cut-offs for hit@k (default: 1,3,5,10)")
    ev.add_argument("--url", metavar="URL", help="evaluate a running server over HTTP instead of in-process")
    ev.add_argument("--json", action="store_true", help="print the report as one JSON document")
    ev.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report")
    ev.add_argument("--fail-under", nargs="+", default=[], metavar="METRIC=VALUE",
                    help="exit 1 when a metric is below its floor, e.g. hit@1=0.85 mrr@10=0.9")
    ev.add_argument("--grid", nargs="+", default=[], metavar="NAME=V1,V2",
                    help="compare settings side by side, e.g. scorer=okapi,plus k1=1.2,1.5 passage_words=40,80")
    ev.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the rank-bm25 baseline")
    _add_settings(ev, "eval")
    return parser


def _settings(args: argparse.Namespace) -> Any:
    overrides = {s.name: getattr(args, s.name) for s in SETTINGS if getattr(args, s.name, None) is not None}
    return load_settings(overrides)


def _index(args: argparse.Namespace) -> int:
    """Sources -> corpus files and the saved BM25 index in one streaming pass (one file's text in
    memory at a time), then sentence vectors when the corpus is within ``semantic_max_passages``."""
    import time

    from .index import IndexBuilder, TokenisedPassages
    from .ingest import ingest_to, load_corpus
    from .pipeline import build_encoder, build_tokenizer
    from .neighbours import write_neighbours
    from .semantic import write_vectors

    settings = _settings(args)
    started = time.perf_counter()
    tokenizer = build_tokenizer(settings)
    builder = IndexBuilder(tokenizer)
    words: list[int] = [0, 0, 1 << 62, 0]  # passages, total words, fewest, most

    def consume(prepared: tuple[TokenisedPassages, list[int]]) -> None:
        tokenised, counts = prepared
        builder.add_tokenised(tokenised)
        words[0] += len(counts)
        words[1] += sum(counts)
        words[2] = min(words[2], min(counts))
        words[3] = max(words[3], max(counts))

    documents, count = ingest_to(args.sources, args.out, settings.passage_words, consume,
                                 _index_progress(sys.stderr, started),
                                 functools.partial(_prepare_passages, tokenizer), _index_workers(settings))
    data = builder.finish()
    try:
        data.save(args.out)
    except OSError as exc:
        raise QAError(f"{args.out}: cannot write the index ({exc.strerror or exc})") from None
    took = time.perf_counter() - started
    print(f"wrote {documents} document(s), {count} passages "
          f"(mean {words[1] / max(words[0], 1):.1f} words, {words[2] if words[0] else 0}-{words[3]}) "
          f"and their index ({len(data.terms)} terms) to {args.out} in {took:.1f} s "
          f"({count / max(took, 1e-9):,.0f} passages/s)")
    encoder = build_encoder(settings)
    if encoder is not None and count > settings.semantic_max_passages:
        print(f"no sentence vectors: {count} passages is over semantic_max_passages ({settings.semantic_max_passages}); "
              "answers will use words only (raise --semantic-max-passages to embed them, at about 11 ms a sentence)")
    elif encoder is not None:
        passages = load_corpus(args.out).passages
        vectors = write_vectors(passages, encoder, args.out)
        print(f"wrote {len(vectors.matrix)} sentence vectors ({encoder.name}) to {args.out}")
        if settings.neighbours > 0:
            words = write_neighbours(data.terms, passages, tokenizer, encoder, args.out,
                                     min_similarity=settings.neighbour_similarity, limit=settings.neighbours)
            print(f"wrote {len(words)} word vectors ({encoder.name}) to {args.out}")
    return 0


def _prepare_passages(tokenizer: Any, passages: list[Any]) -> tuple[Any, list[int]]:
    """What ``index`` does to passages where they are read: tokenise them, and count their words."""
    from .index import tokenise_passages

    return tokenise_passages(passages, tokenizer), [len(p.text.split()) for p in passages]


def _index_workers(settings: Settings) -> int:
    """Processes reading and tokenising sources for ``index``: the setting, or one per core it may use."""
    if settings.index_workers:
        return settings.index_workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _change(args: argparse.Namespace) -> int:
    """``add`` and ``remove``: the same change a running server makes, on the corpus folder."""
    from .live import folder_lock
    from .pipeline import build_pipeline
    from .store import Upload, add_documents, check_folder, remove_documents

    settings = _settings(args)
    folder = settings.corpus_dir
    check_folder(folder)
    with folder_lock(folder):
        pipeline = build_pipeline(settings)
        if args.command == "add":
            uploads = []
            for path in args.files:
                try:
                    uploads.append(Upload(path.name, path.read_bytes()))
                except OSError as exc:
                    raise QAError(f"{path}: cannot read ({exc.strerror or exc})") from None
            change = add_documents(pipeline, uploads, folder, settings)
        else:
            change = remove_documents(pipeline, args.ids, folder, settings)
    corpus = change.pipeline.corpus
    for document in change.added:
        count = sum(1 for p in change.passages if p.document == document.id)
        print(f"added {document.id}: {count} passages from {document.source} ({document.title})")
    for document in change.removed:
        print(f"removed {document.id} ({document.source})")
    print(f"{folder}: {len(corpus.documents)} document(s), {len(corpus.passages)} passages "
          f"({change.took_ms / 1000:.1f} s)")
    return 0


def _index_progress(stream: Any, started: float) -> Any:
    """A line for ``index`` that rewrites itself on a terminal (files, passages/s, ETA); None elsewhere."""
    if not _on_terminal(stream):
        return None
    import time

    shown = [0.0]

    def show(done: int, files: int, passages: int) -> None:
        now = time.perf_counter()
        if done < files and now - shown[0] < 0.5:
            return
        shown[0] = now
        spent = max(now - started, 1e-9)
        eta = spent / done * (files - done)
        end = "\n" if done >= files else ""
        stream.write(f"\r\x1b[2Kindexing: {done:,}/{files:,} files, {passages:,} passages, "
                     f"{passages / spent:,.0f} passages/s, ETA {eta:,.0f} s{end}")
        stream.flush()

    return show


def _serve_logging(access_log: bool) -> None:
    """One access line per request (method, path, status, time, id) on stderr; waitress's
    "Task queue depth is N", logged once per queued request under load, is silenced."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logging.getLogger("qa_service").addHandler(handler)
    logging.getLogger("qa_service").setLevel(logging.INFO)
    logging.getLogger("qa_service.access").disabled = not access_log
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def _serve(args: argparse.Namespace) -> int:
    """Opens the port at once and loads the corpus on a thread (health says "loading" meanwhile);
    a corpus that cannot be loaded stops the server with one line and exit status 1."""
    import signal
    import threading

    from . import contract
    from .live import PipelineHolder, builder
    from .server import create_server, drain
    from .web import create_app

    settings = _settings(args)
    inherited = os.environ.get(_LISTEN_FD)
    if settings.workers > 1 and inherited is None:
        return _serve_workers(settings)
    _serve_logging(settings.access_log)
    build = builder(settings)
    on_change = None
    max_body = contract.MAX_BODY_BYTES
    if settings.allow_uploads:
        from .store import check_folder

        check_folder(settings.corpus_dir)  # before the port opens: a folder that cannot take a change says so now
        max_body = settings.upload_max_files * (settings.upload_max_mb * 1024 * 1024 + 64 * 1024)
        if inherited is not None and hasattr(signal, "SIGHUP"):  # the parent passes a SIGHUP on to every worker
            parent = os.getppid()

            def on_change() -> None:
                os.kill(parent, signal.SIGHUP)
    holder = PipelineHolder(build=build, source=str(settings.corpus_dir), folder=settings.corpus_dir,
                            on_change=on_change)
    app = create_app(holder, settings)
    try:
        if inherited is not None:  # a worker of `serve --workers`: the parent's listening socket
            import socket

            sockets = [socket.socket(fileno=int(inherited))]
            server = create_server(app, host=settings.host, port=settings.port, threads=settings.threads,
                                   connection_limit=settings.connection_limit,
                                   channel_timeout=settings.channel_timeout, sockets=sockets, max_body=max_body)
        else:
            server = create_server(app, host=settings.host, port=settings.port, threads=settings.threads,
                                   connection_limit=settings.connection_limit,
                                   channel_timeout=settings.channel_timeout, max_body=max_body)
    except OSError as exc:
        raise _listen_error(settings, exc) from None
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    port = server.effective_port  # type: ignore[union-attr]
    if inherited is None:
        print(f"Serving on http://{host}:{port}/  (loading {settings.corpus_dir}; Ctrl+C to stop)", flush=True)
    failed: list[BaseException] = []

    def load() -> None:
        try:
            pipeline = build()
        except BaseException as exc:  # noqa: BLE001 - said by the main thread, then the server stops
            failed.append(exc)
            signal.raise_signal(signal.SIGINT)
            return
        if not holder.ready:  # a SIGHUP during the first load may have put one in place already
            holder.swap(pipeline)
        print(f"qa-service: {len(pipeline.corpus.passages)} passages from {len(pipeline.corpus.documents)} "
              f"document(s) in {settings.corpus_dir}", flush=True)

    if inherited is not None:  # a worker: stopped by its parent's SIGTERM, even if started where SIGINT is ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
    draining: list[Any] = []

    def stop_gracefully(_signum: int, _frame: Any) -> None:
        """SIGTERM: stop taking connections, finish and send the answers in progress, then stop
        (behind nginx a restarted process loses no request); a second SIGTERM is the same one."""
        if not draining:
            draining.append(drain(server, lambda: signal.raise_signal(signal.SIGINT)))

    signal.signal(signal.SIGTERM, stop_gracefully)
    try:  # a failed load interrupts this thread at any point from here on
        threading.Thread(target=load, name="qa-service-load", daemon=True).start()
        if hasattr(signal, "SIGHUP"):  # reload the corpus folder aside; requests keep being answered meanwhile
            signal.signal(signal.SIGHUP, lambda *_: holder.reload_in_background())
        server.run()
    except KeyboardInterrupt:
        server.close()
    if failed:
        raise failed[0]
    return 0


_LISTEN_FD = "QA_SERVE_LISTEN_FD"  # set by `serve --workers` for the processes it starts


def _listen_error(settings: Settings, exc: OSError) -> SettingsError:
    if exc.errno == errno.EADDRINUSE:
        return SettingsError(f"port {settings.port} on {settings.host} is already in use; stop what uses it, "
                             f"or pick another port: --port {settings.port + 1 if settings.port < 65535 else 8080} "
                             "(--port 0 picks a free one)")
    return SettingsError(f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc})")


def _serve_workers(settings: Settings) -> int:
    """``serve --workers N``: open the port here, then start N ``serve`` processes that accept on it
    (the kernel hands each connection to one of them). SIGHUP is passed on to every worker (each
    reloads the corpus folder aside); Ctrl+C or SIGTERM stops them all; a worker that stops on its
    own (a corpus it cannot load says why in one line) stops the rest."""
    import signal
    import socket
    import subprocess
    import time

    try:
        family = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.create_server((settings.host, settings.port), family=family, backlog=1024)
    except OSError as exc:
        raise _listen_error(settings, exc) from None
    port = listener.getsockname()[1]
    env = {**os.environ, _LISTEN_FD: str(listener.fileno())}
    for setting in SETTINGS:  # every worker gets this command's settings, as environment variables
        value = getattr(settings, setting.name)
        if "serve" in setting.commands and value is not None:
            env[setting.env] = str(value).lower() if isinstance(value, bool) else str(value)
    env["QA_WORKERS"], env["QA_PORT"] = "1", str(port)
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    print(f"Serving on http://{host}:{port}/  ({settings.workers} workers; loading {settings.corpus_dir}; "
          "Ctrl+C to stop)", flush=True)
    workers = [subprocess.Popen([sys.executable, "-m", "qa_service", "serve"], env=env, pass_fds=[listener.fileno()])
               for _ in range(settings.workers)]
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    def reload(_signum: int, _frame: Any) -> None:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGHUP)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    if hasattr(signal, "SIGHUP"):
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)
    code = 0
    try:
        while not stopping:
            ended = [w for w in workers if w.poll() is not None]
            if ended:
                code = ended[0].returncode or 1
                break
            time.sleep(0.2)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)  # each stops as `serve` does on Ctrl+C
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        listener.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code if not stopping else 0


def _reload(args: argparse.Namespace) -> int:
    """POST /api/admin/reload to the local server; its answer in one line."""
    import urllib.error
    import urllib.request

    settings = _settings(args)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else "::1" if settings.host == "::" else settings.host
    url = f"http://{host if ':' not in host else f'[{host}]'}:{settings.port}/api/admin/reload"
    headers = {"X-API-Key": settings.api_key} if settings.api_key else {}
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            try:
                message = json.loads(error.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {error.code}"
        raise QAError(f"{url}: {message}") from None
    except (OSError, ValueError) as exc:
        raise QAError(f"{url}: no qa-service answered ({getattr(exc, 'reason', exc)})") from None
    print(f"reloaded {body['documents']} document(s), {body['passages']} passages in {body['took_ms'] / 1000:.1f} s")
    return 0


_OPEN, _CLOSE = "\ue000", "\ue001"  # marks around the span while wrapping (never in real text)


def _on_terminal(stream: Any) -> bool:
    """Whether to draw for a person: a terminal, and colour not turned off (NO_COLOR)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def format_answer(answer: Any, width: int = 80, emphasis: bool = False, sources: bool = True) -> str:
    """An answer as wrapped text: the sentence with its exact span emphasised (bold and
    underlined on a terminal, else left plain), where it comes from, and the passages."""
    import textwrap

    from . import contract

    def wrap(text: str, indent: str = "") -> str:
        return "\n".join(textwrap.fill(part, width=max(20, width), initial_indent=indent, subsequent_indent=indent,
                                       break_on_hyphens=False, break_long_words=False)
                         for part in text.split("\n") if part.strip())

    lines = []
    if answer.follow_up and answer.context:
        lines.append(wrap(f"(read as a follow-up to: “{answer.context[0]}”; ask it again with “!” in front "
                          "to ask it on its own)"))
    short = answer.answer
    if short is None:
        lines.append(wrap(contract.render_message(answer) if answer.reply else
                          f"Not in the document. {contract.render_message(answer)}"))
    else:
        text = short.text
        if short.span is not None and short.start <= short.span.start < short.span.end <= short.end:
            a, b = short.span.start - short.start, short.span.end - short.start
            text = f"{text[:a]}{_OPEN}{text[a:b]}{_CLOSE}{text[b:]}"
        body = wrap(text)
        on, off = ("\x1b[1;4m", "\x1b[0m") if emphasis else ("", "")
        lines.append(body.replace(_OPEN, on).replace(_CLOSE, off))
        cited = next((r for r in answer.passages if r.hit.passage.id == short.passage_id), None)
        where = (f"“{cited.document_title}”, ¶ {cited.hit.passage.index}" if cited else "") + f" [{short.passage_id}]"
        lines.append(wrap("— " + where.strip(), "  "))
    if sources:
        for result in answer.passages:
            p = result.hit.passage
            lines.append(f"\n#{result.hit.rank} {p.id}  score {result.hit.score:.2f}\n{wrap(p.text, '  ')}")
    return "\n".join(lines)


def _chat(pipeline: Any, top_k: int, history: list[Any]) -> int:
    """Questions from stdin, one a line, answered in turn with the conversation so far;
    Ctrl-D (end of input) leaves. On a terminal: a prompt, line editing, emphasis, wrapping."""
    import shutil

    from . import contract
    from .values import Exchange

    person = _on_terminal(sys.stdin) and _on_terminal(sys.stdout)
    if person:
        try:
            import readline  # noqa: F401 - line editing and history for input()
        except ImportError:
            pass
        titles = [d.title for d in pipeline.corpus.documents]
        about = f"“{titles[0]}”" if len(titles) == 1 else f"{len(titles)} documents"
        print(f"Ask about {about}. One question a line; “!” in front asks it on its own; Ctrl-D leaves.")
    while True:
        try:
            line = input("? ") if person else sys.stdin.readline()
        except EOFError:
            if person:
                print()
            return 0
        except KeyboardInterrupt:
            print()
            return 130
        if not person and line == "":
            return 0
        line = line.strip()
        if not line:
            continue
        alone = line.startswith("!")
        try:
            asked = contract.parse_ask_body({"question": line.lstrip("!").strip(), "history": []})
        except QAError as exc:
            print(f"qa-service ask: {exc.message}", file=sys.stderr)
            continue
        if not person:  # a transcript: each answer under its question
            print(f"? {line}")
        answer = pipeline.answer(asked.question, [] if alone else history[-contract.MAX_HISTORY:], top_k)
        width = min(100, shutil.get_terminal_size((80, 24)).columns) if person else 80
        print(format_answer(answer, width=width, emphasis=person, sources=False))
        print()
        if answer.intent in (None, "overview"):
            short = answer.answer
            history.append(Exchange(asked.question, None, answered=True) if short is None else
                           Exchange(asked.question, short.text, short.passage_id, short.start, answered=True))
        sys.stdout.flush()


def _ask(args: argparse.Namespace) -> int:
    import shutil

    from . import contract
    from .pipeline import build_pipeline

    settings = _settings(args)
    if args.question is None:
        if args.json:
            raise SettingsError("--json answers one question: give it, e.g. qa-service ask \"...\" --json")
        asked = contract.parse_ask_body({"question": "-", "history": args.history})
        pipeline = build_pipeline(settings)
        return _chat(pipeline, settings.top_k, list(asked.history))
    asked = contract.parse_ask_body({"question": args.question, "history": args.history})
    pipeline = build_pipeline(settings)
    answer = pipeline.answer(asked.question, asked.history, settings.top_k)
    if args.json:
        print(json.dumps(contract.answer_to_json(answer), ensure_ascii=False, indent=2))
        return 0
    person = _on_terminal(sys.stdout)
    width = min(100, shutil.get_terminal_size((80, 24)).columns) if person else 80
    print(format_answer(answer, width=width, emphasis=person))
    return 0


def _progress(stream: Any) -> Any:
    """A progress line for ``eval`` that rewrites itself on a terminal; None (silence) when the
    output goes to a file or a pipe, where it would only be noise."""
    if not _on_terminal(stream):
        return None

    def show(stage: str, done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        stream.write(f"\r\x1b[2K{stage}: {done}/{total} questions{end}")
        stream.flush()

    return show


def _eval(args: argparse.Namespace) -> int:
    from . import evaluate as ev
    from .ingest import load_corpus, load_questions

    settings = _settings(args)
    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
    except ValueError:
        raise EvalError(f"--k {args.k!r}: expected whole numbers like 1,3,5,10") from None
    if not ks or ks[0] < 1:
        raise EvalError("--k: cut-offs must be whole numbers of at least 1")
    if args.squad:
        if args.url:
            raise EvalError("--squad ranks its own articles; it cannot be combined with --url")
        corpus, questions = ev.load_squad(args.squad)
        per_pool, name = args.pool == "article", f"qa-service on {args.squad.name} ({args.pool} pool)"
    else:
        corpus = None if args.url else load_corpus(settings.corpus_dir)
        if args.questions or corpus is None:
            questions = load_questions(args.questions or settings.corpus_dir / "questions.jsonl")
        else:
            questions = list(corpus.questions) or load_questions(settings.corpus_dir / "questions.jsonl")
        per_pool, name = False, "qa-service" if not args.url else f"qa-service at {args.url}"

    if args.grid:
        if args.url:
            raise EvalError("--grid changes settings in-process; it cannot be combined with --url")
        rows = []
        for combo in ev.parse_grid(args.grid):
            words = combo.pop("passage_words", None)
            if words is not None and args.squad:
                raise EvalError("passage_words cannot vary with --squad: its passages are the paragraphs")
            grid_corpus = ev.regrouped(corpus, int(words)) if words is not None else corpus
            report = ev.evaluate(questions, grid_corpus, settings.replace(**combo), per_pool=per_pool, ks=ks,
                                 baseline=False, stages=False)
            rows.append(({**combo, **({"passage_words": words} if words else {})}, report))
        if args.json:
            print(json.dumps([{"settings": c, "metrics": r.metrics} for c, r in rows], indent=2))
        else:
            print(ev.format_grid(rows, ks))
        return 0

    report = ev.evaluate(questions, corpus, settings, url=args.url, per_pool=per_pool, ks=ks,
                         baseline=args.baseline, name=name, progress=_progress(sys.stderr))
    broken = ev.check_floors(report, args.fail_under)
    if args.json:
        print(json.dumps({**report.to_json(), "failed_floors": broken}, indent=2, ensure_ascii=False))
    else:
        print(ev.format_report(report))
    if args.html:
        try:
            args.html.write_text(ev.html_report(report), encoding="utf-8")
        except OSError as exc:
            raise EvalError(f"{args.html}: cannot write the report ({exc.strerror or exc})") from None
        print(f"wrote {args.html}", file=sys.stderr)
    if broken:
        for line in broken:
            print(f"qa-service eval: below the floor: {line}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"index": _index, "serve": _serve, "ask": _ask, "eval": _eval, "reload": _reload,
                "add": _change, "remove": _change}
    try:
        return handlers[args.command](args)
    except QAError as exc:
        message = exc.message.encode("utf-8", "backslashreplace").decode("utf-8")  # a file name may not be UTF-8
        print(f"qa-service {args.command}: error: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `qa-service ask ... | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
