"""GET /api/documents/<id> (a document's full text and its passages) and POST /api/explain (why
a passage matched), over the tiny corpus."""

from __future__ import annotations

import pytest


def test_a_document_has_its_full_text_and_its_passages_as_offsets(client) -> None:  # noqa: ANN001
    listed = client.get("/api/documents").get_json()["documents"][0]
    response = client.get(f"/api/documents/{listed['id']}")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["id"] == listed["id"] and doc["title"] == listed["title"] and len(doc["text"]) == listed["characters"]
    assert len(doc["passages"]) == listed["passages"] >= 2
    for p in doc["passages"]:
        own = client.get(f"/api/passages/{p['id']}").get_json()
        assert doc["text"][p["start"]:p["end"]] == own["text"]
    assert [p["index"] for p in doc["passages"]] == sorted(p["index"] for p in doc["passages"])


@pytest.mark.parametrize("doc_id", ["nope", "lighthouse-p001", "../lighthouse", "%00", "a" * 500],
                         ids=["unknown", "a-passage-id", "dots", "nul", "long"])
def test_an_unknown_document_is_a_json_404(client, doc_id: str) -> None:  # noqa: ANN001
    response = client.get(f"/api/documents/{doc_id}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_explain_gives_each_terms_part_of_the_score(client) -> None:  # noqa: ANN001
    asked = client.post("/api/ask", json={"question": "Who ran the station?"}).get_json()
    top = asked["passages"][0]
    response = client.post("/api/explain", json={"question": "Who ran the station?", "passage_id": top["id"]})
    assert response.status_code == 200
    body = response.get_json()
    rows = {r["word"]: r for r in body["terms"]}
    assert {"ran", "station"} <= rows.keys()
    assert rows["station"]["frequency"] >= 1 and rows["station"]["contribution"] > 0
    assert rows["station"]["term"] == "station" and rows["ran"]["term"] != "ran"  # the stem (or lemma) it searched
    assert body["total"] == pytest.approx(top["scores"]["weighted"], abs=1e-3)  # the terms add up to the score
    assert body["follow_up"] is False


def test_explain_says_which_terms_stand_for_a_word_by_meaning(client) -> None:  # noqa: ANN001
    # the documents never say "beacon"; their word nearest to it in meaning is "lighthouse"
    body = client.post("/api/explain", json={"question": "When was the beacon built?",
                                             "passage_id": "lighthouse-p001"}).get_json()
    rows = {r["word"]: r for r in body["terms"]}
    assert rows["beacon"]["by_meaning"] is True and rows["beacon"]["term"].startswith("lighthous")
    assert rows["beacon"]["frequency"] >= 1 and rows["beacon"]["contribution"] > 0
    assert rows["built"]["by_meaning"] is False


def test_explain_of_a_follow_up_shows_the_earlier_turn(client) -> None:  # noqa: ANN001
    body = client.post("/api/explain", json={
        "question": "And when was it automated?", "passage_id": "lighthouse-p003",
        "history": [{"question": "Who ran the station?", "answer": None}]}).get_json()
    assert body["follow_up"] is True
    assert {r["turn"] for r in body["terms"]} >= {"question", "earlier"}


@pytest.mark.parametrize(
    ("body", "status"),
    [({"question": "Who ran the station?", "passage_id": "nope"}, 404),
     ({"question": "Who ran the station?"}, 400), ({"question": "", "passage_id": "lighthouse-p001"}, 400),
     ({"question": "Who?", "passage_id": 3}, 400), ([1, 2], 400)],
    ids=["unknown-passage", "no-passage", "empty-question", "id-not-a-string", "not-an-object"],
)
def test_explain_refuses_bad_input_with_json(client, body, status: int) -> None:  # noqa: ANN001
    response = client.post("/api/explain", json=body)
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_explain_wants_json(client) -> None:  # noqa: ANN001
    response = client.post("/api/explain", data="question=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.get_json()["error"]["code"] == "unsupported_media_type"
