"""Adding and removing documents on a running server (POST/DELETE /api/documents) and offline
(`qa-service add` / `remove`): the change is made aside and swapped in whole, written to the
corpus folder, and a bad file changes nothing."""

from __future__ import annotations

import hashlib
import io
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import stream_encode_multipart

from qa_service.cli import main
from qa_service.config import Settings
from qa_service.errors import IngestError
from qa_service.ingest import load_corpus
from qa_service.live import PipelineHolder, builder
from qa_service.store import Change, Upload, add_documents, upload_name
from qa_service.web import create_app

KEY = "a-key-of-at-least-16-characters"
HARBOUR = (b"# The Harbour of Hammerfest\n\nThe harbour of Hammerfest froze in the winter of 1966, and the supply "
           b"boats stayed in port for nine days.\n\nFishermen cut a channel through the ice with saws.\n")
QUESTION = "How many days did the supply boats stay in port at Hammerfest?"


@pytest.fixture()
def corpus_copy(tiny_corpus_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_dir, folder)
    return folder


def _files(folder: Path) -> dict[str, str]:
    """The corpus files' contents, by name (what must not change when a change is refused)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in (".json", ".jsonl")}


def _client(folder: Path, **settings):  # noqa: ANN003, ANN202
    app = create_app(None, Settings(corpus=folder, allow_uploads=True, **settings))
    app.config.update(TESTING=True)
    return app.test_client()


def _upload(client, *files: tuple[str, bytes], headers: dict | None = None):  # noqa: ANN001, ANN202
    # encoded here, in memory: werkzeug's test client spools a large body to a file it never closes
    body, length, boundary = stream_encode_multipart(
        MultiDict([("files", FileStorage(io.BytesIO(content), filename=name)) for name, content in files]),
        use_tempfile=False)
    return client.post("/api/documents", data=body.read(), headers=headers or {},
                       content_type=f"multipart/form-data; boundary={boundary}")


def _error(response, status: int) -> str:  # noqa: ANN001
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]["message"]


def test_an_added_document_answers_and_a_removed_one_no_longer_does(corpus_copy: Path) -> None:
    client = _client(corpus_copy)
    before = _files(corpus_copy)
    assert client.get("/api/ask", query_string={"q": QUESTION}).get_json()["answer"] is None

    response = _upload(client, ("harbour.md", HARBOUR))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    [document] = body["documents"]
    assert (document["id"], document["title"], document["source"]) == ("harbour", "The Harbour of Hammerfest", "harbour.md")
    assert document["passages"] and all(p["document"] == "harbour" for p in document["passages"])
    assert body["corpus"]["documents"] == 2

    answer = client.get("/api/ask", query_string={"q": QUESTION}).get_json()
    assert answer["answer"] is not None and "nine days" in answer["answer"]["text"]
    assert answer["passages"][0]["document"] == "harbour"
    listed = client.get("/api/documents").get_json()
    assert [d["id"] for d in listed["documents"]] == ["lighthouse", "harbour"] and listed["uploads"]["enabled"]
    on_disk = load_corpus(corpus_copy)  # written to the folder: a restart serves it
    assert [d.id for d in on_disk.documents] == ["lighthouse", "harbour"]

    response = client.delete("/api/documents/harbour")
    assert response.status_code == 200
    assert response.get_json()["removed"]["id"] == "harbour" and response.get_json()["corpus"]["documents"] == 1
    assert client.get("/api/ask", query_string={"q": QUESTION}).get_json()["answer"] is None
    assert _files(corpus_copy) == before  # the folder is as it was, byte for byte


def test_uploads_are_off_unless_allowed(tiny_pipeline, corpus_copy: Path) -> None:  # noqa: ANN001
    app = create_app(None, Settings(corpus=corpus_copy))
    client = app.test_client()
    assert "--allow-uploads" in _error(_upload(client, ("harbour.md", HARBOUR)), 403)
    assert "--allow-uploads" in _error(client.delete("/api/documents/lighthouse"), 403)
    assert client.get("/api/documents").get_json()["uploads"]["enabled"] is False


@pytest.mark.parametrize(
    ("files", "status", "named"),
    [
        ([("harbour.md", HARBOUR), ("junk.pdf", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)], 422, "junk.pdf"),
        ([("empty.txt", b"   \n")], 422, "empty.txt"),
        ([("latin1.txt", "Caf\u00e9 cr\u00e8me and more words here.".encode("latin-1"))], 422, "latin1.txt"),
        ([("lighthouse.txt", b"Other Lights\n\nAnother text about something else entirely, with words.\n")], 409, "lighthouse"),
        ([("a.md", HARBOUR), ("b.md", HARBOUR)], 409, "b.md"),
    ],
    ids=["one-bad-file-among-good", "empty", "not-utf8", "id-taken", "same-content-twice"],
)
def test_a_refused_upload_names_the_file_and_changes_nothing(corpus_copy: Path, files, status: int, named: str) -> None:  # noqa: ANN001
    client = _client(corpus_copy)
    before = _files(corpus_copy)
    message = _error(_upload(client, *files), status)
    assert named in message and "qa-upload" not in message and "/tmp" not in message  # never where it was kept
    assert _files(corpus_copy) == before
    assert client.get("/api/health").get_json()["documents"] == 1


def test_upload_limits(corpus_copy: Path) -> None:
    client = _client(corpus_copy, upload_max_mb=1, upload_max_files=2)
    before = _files(corpus_copy)
    big = b"A sentence about harbours and boats. " * 30_000  # over 1 MiB
    assert "big.txt" in _error(_upload(client, ("big.txt", big)), 413)
    assert "at most 2" in _error(_upload(client, *[(f"f{i}.txt", HARBOUR) for i in range(3)]), 413)
    assert "multipart/form-data" in _error(client.post("/api/documents", json={"files": []}), 415)
    assert "no files" in _error(client.post("/api/documents", data={"x": "y"}, content_type="multipart/form-data"), 400)
    assert _files(corpus_copy) == before


def test_removing(corpus_copy: Path) -> None:
    client = _client(corpus_copy)
    assert "nope" in _error(client.delete("/api/documents/nope"), 404)
    assert "at least one document" in _error(client.delete("/api/documents/lighthouse"), 409)


def test_with_an_api_key_only_requests_carrying_it_change_documents(corpus_copy: Path) -> None:
    client = _client(corpus_copy, api_key=KEY)
    _error(_upload(client, ("harbour.md", HARBOUR)), 401)
    assert _upload(client, ("harbour.md", HARBOUR), headers={"X-API-Key": KEY}).status_code == 201
    _error(client.delete("/api/documents/harbour"), 401)
    assert client.delete("/api/documents/harbour", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_another_sites_page_cannot_add_documents(corpus_copy: Path) -> None:
    """A form on another site can post multipart to a server on this machine: its Origin says so."""
    client = _client(corpus_copy)
    assert "another site" in _error(_upload(client, ("harbour.md", HARBOUR), headers={"Origin": "https://evil.example"}), 403)
    assert "another site" in _error(_upload(client, ("harbour.md", HARBOUR), headers={"Sec-Fetch-Site": "cross-site"}), 403)
    assert _upload(client, ("harbour.md", HARBOUR), headers={"Origin": "http://localhost"}).status_code == 201


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("report.pdf", "report.pdf"), ("../../etc/notes.txt", "notes.txt"), ("C:\\Users\\me\\plan.md", "plan.md"),
     ("dir/sub/a b.txt", "a b.txt")],
    ids=["plain", "climbing", "windows-path", "folders"],
)
def test_only_the_last_part_of_a_file_name_is_kept(sent: str, kept: str) -> None:
    assert upload_name(sent) == kept


@pytest.mark.parametrize("name", ["", "..", "dir/", "a\x00b.txt", "x" * 300 + ".txt"],
                         ids=["empty", "dots", "folder", "nul", "too-long"])
def test_unusable_file_names_are_refused(name: str) -> None:
    with pytest.raises(IngestError):
        upload_name(name)


def test_questions_during_a_change_are_answered_by_the_old_corpus(corpus_copy: Path) -> None:
    """The change is made aside: until it is swapped in, every request gets the old pipeline, whole."""
    settings = Settings(corpus=corpus_copy)
    holder = PipelineHolder(build=builder(settings), source=str(corpus_copy), folder=corpus_copy)
    holder.reload()
    old = holder.current()
    inside, release = threading.Event(), threading.Event()

    def slow(pipeline):  # noqa: ANN001, ANN202
        change = add_documents(pipeline, [Upload("harbour.md", HARBOUR)], corpus_copy)
        inside.set()
        release.wait(10)
        return change

    results: list[Change] = []
    worker = threading.Thread(target=lambda: results.append(holder.change(slow)))
    worker.start()
    assert inside.wait(30)
    assert holder.current() is old and old.ask(QUESTION).answer is None  # written to disk, not yet swapped in
    release.set()
    worker.join(30)
    assert holder.current() is results[0].pipeline is not old
    assert "nine days" in holder.current().ask(QUESTION).answer.text
    assert len(old.corpus.documents) == 1  # the old pipeline was never changed in place


def test_two_processes_sharing_a_folder_lose_no_change(corpus_copy: Path) -> None:
    """`serve --workers`: each process holds its own corpus; one that is behind the folder reads it first."""
    settings = Settings(corpus=corpus_copy)
    first, second = (PipelineHolder(build=builder(settings), source="x", folder=corpus_copy) for _ in range(2))
    first.reload()
    second.reload()
    first.change(lambda p: add_documents(p, [Upload("harbour.md", HARBOUR)], corpus_copy))
    second.change(lambda p: add_documents(p, [Upload("tides.txt", b"Tides of Fundy\n\nThe tides of the Bay of Fundy rise 16 metres, the highest tides in the world.\n")],
                                          corpus_copy))
    assert [d.id for d in load_corpus(corpus_copy).documents] == ["lighthouse", "harbour", "tides"]
    assert [d.id for d in second.current().corpus.documents] == ["lighthouse", "harbour", "tides"]


def test_cli_add_and_remove(corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "harbour.md"
    source.write_bytes(HARBOUR)
    before = _files(corpus_copy)
    assert main(["add", str(source), "--corpus", str(corpus_copy)]) == 0
    out = capsys.readouterr().out
    assert "added harbour" in out and "2 document(s)" in out
    assert main(["ask", QUESTION, "--corpus", str(corpus_copy), "--json"]) == 0
    assert "nine days" in capsys.readouterr().out

    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    changed = _files(corpus_copy)
    assert main(["add", str(source), str(bad), "--corpus", str(corpus_copy)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert _files(corpus_copy) == changed

    assert main(["remove", "harbour", "--corpus", str(corpus_copy)]) == 0
    assert "removed harbour" in capsys.readouterr().out
    assert _files(corpus_copy) == before
    assert main(["remove", "nope", "--corpus", str(corpus_copy)]) == 1
    assert "no document with id 'nope'" in capsys.readouterr().err


def test_a_pdf_and_a_word_file_uploaded_are_answered_with_their_pages(corpus_copy: Path) -> None:
    from documents import flowing, make_docx, make_pdf

    pdf = make_pdf([flowing(["Survey of the Skerry Islands", "",
                             "The northern skerries were surveyed by boat in the summer of 1931."]),
                    flowing(["The survey counted 214 nesting puffin pairs on Storskjær, the largest colony."])],
                   title="Skerry Survey")
    word = make_docx(lambda d: (d.add_heading("Orchard Ledger", 1),
                                d.add_paragraph("The cider press at Hollow Farm was rebuilt in 1978 by the "
                                                "cooperative, with oak from the estate.")))
    client = _client(corpus_copy)
    # named as something else: the kind comes from the content
    response = _upload(client, ("survey.txt", pdf), ("ledger.bin.docx", word))
    assert response.status_code == 201, response.get_data(as_text=True)
    added = {d["id"]: d for d in response.get_json()["documents"]}
    assert added["survey"]["kind"] == "pdf" and added["survey"]["pages"] == 2
    assert added["survey"]["title"] == "Skerry Survey" and added["ledger-bin"]["kind"] == "docx"
    assert {p["page"] for p in added["survey"]["passages"]} <= {1, 2}

    answer = client.get("/api/ask", query_string={"q": "How many puffin pairs nest on Storskjær?"}).get_json()
    assert "214" in answer["answer"]["text"]
    top = answer["passages"][0]
    assert top["document"] == "survey" and top.get("last_page", top["page"]) == 2
    answer = client.get("/api/ask", query_string={"q": "When was the cider press at Hollow Farm rebuilt?"}).get_json()
    assert "1978" in answer["answer"]["text"] and "page" not in answer["passages"][0]


def test_a_change_is_incremental_equal_to_a_rebuild_and_saved_for_the_next_start(
        corpus_copy: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from qa_service.index import build_data
    from qa_service.pipeline import build_pipeline
    from qa_service.semantic import load_or_build

    settings = Settings(corpus=corpus_copy)
    first = build_pipeline(settings)
    change = add_documents(first, [Upload("harbour.md", HARBOUR)], corpus_copy)
    new = change.pipeline
    rebuilt = build_data(new.corpus.passages, new.index.tokenizer)
    assert new.index.data.terms == rebuilt.terms and new.index.data.fingerprint == rebuilt.fingerprint
    assert all(np.array_equal(new.index.data.arrays[k], rebuilt.arrays[k]) for k in rebuilt.arrays)
    if new.vectors is not None:  # meaning on: the vectors too, the old sentences not embedded again
        fresh = load_or_build(new.corpus.passages, new.analyser.encoder)
        assert np.allclose(new.vectors.matrix, fresh.matrix, atol=1e-6)
    import qa_service.index
    import qa_service.semantic

    def never(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the saved index or vectors were not used")

    monkeypatch.setattr(qa_service.semantic, "_encode", never)
    monkeypatch.setattr(qa_service.index, "build_data", never)
    with caplog.at_level("WARNING"):
        restarted = build_pipeline(settings)
    assert not [r for r in caplog.records if "again" in r.getMessage()]  # neither index nor vectors rebuilt
    assert [d.id for d in restarted.corpus.documents] == ["lighthouse", "harbour"]


def test_a_full_disk_during_an_upload_leaves_the_corpus_as_it_was(corpus_copy: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    client = _client(corpus_copy)
    before = _files(corpus_copy)
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self.name.startswith(".passages.jsonl"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    assert "No space left" in _error(_upload(client, ("harbour.md", HARBOUR)), 500)
    monkeypatch.undo()
    assert _files(corpus_copy) == before and not [p for p in corpus_copy.iterdir() if p.name.endswith(".tmp")]
    assert client.get("/api/health").get_json()["documents"] == 1  # the live corpus too
    assert _upload(client, ("harbour.md", HARBOUR)).status_code == 201  # and the next upload works


def test_processes_checking_one_folder_at_once_all_find_it_writable(tmp_path: Path) -> None:
    """`serve --workers 2 --allow-uploads` starts two processes that check the folder together:
    each probe has a name of its own, so one never removes the other's (that stopped a worker)."""
    from qa_service.store import check_folder

    failures: list[BaseException] = []

    def check_many() -> None:
        for _ in range(300):
            try:
                check_folder(tmp_path)
            except BaseException as exc:  # noqa: BLE001 - counted below
                failures.append(exc)

    threads = [threading.Thread(target=check_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert list(tmp_path.iterdir()) == []  # no probe left behind


def test_a_folder_that_cannot_be_written_is_refused_in_one_line(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import errno
    import tempfile

    from qa_service.errors import CorpusError
    from qa_service.store import check_folder

    with pytest.raises(CorpusError, match="corpus folder not found"):
        check_folder(tmp_path / "missing")

    def refused(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202 - as a read-only folder answers (root writes anywhere)
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(CorpusError, match=r"cannot write to the corpus folder \(Read-only file system\)"):
        check_folder(tmp_path)
