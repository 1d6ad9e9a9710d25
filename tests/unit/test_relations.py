"""Who spoke with whom: extraction on paragraphs written for these tests, cache, queries, picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.console import format_answer
from bot.exts.ask._embeds import answer_embeds
from index.corpus.documents import Document, read_document
from index.relations.drawing import capped, draw
from index.relations.graph import (
    Evidence,
    Link,
    Node,
    RelationGraph,
    merge,
    query_relations,
    sync_relations,
)
from index.relations.patterns import extract_document
from index.relations.questions import no_link_note, relations_for_question
from tests.conftest import ROOT, one_text_engine

# News-style paragraphs written for these tests; the links each one states are listed below.
SUMMIT = """Prime Minister Anna Kowalczyk met Foreign Minister Tomas Herrera in Warsaw on Tuesday, and separately with Chancellor Dieter Brandt.

Mr. Herrera later spoke with Ines Duarte, the head of the trade delegation, and with Olaf Lindqvist.

Ms. Kowalczyk was telephoned by President Samuel Okafor on Wednesday.

Talks between Dieter Brandt and Samuel Okafor ended without an agreement.

Duarte and Lindqvist discussed the tariff schedule over dinner.

Okafor criticised Herrera's remarks about the harbour project.

Brandt said he would meet Lindqvist next month, but he refused to talk to Nadia Petrova.

Admiral Lars Berg, the commander of the northern fleet, held talks with Admiral Moreau on Thursday. Admiral Berg had not spoken with Petrova.
"""
SUMMIT_LINKS = {
    ("Anna Kowalczyk", "Tomas Herrera", "met", "on Tuesday", 1),
    ("Anna Kowalczyk", "Dieter Brandt", "met", "on Tuesday", 1),  # "and separately with"
    ("Tomas Herrera", "Ines Duarte", "spoke", None, 2),  # "Mr. Herrera" is Tomas Herrera
    ("Tomas Herrera", "Olaf Lindqvist", "spoke", None, 2),
    ("Anna Kowalczyk", "Samuel Okafor", "phoned", "on Wednesday", 3),  # passive
    ("Dieter Brandt", "Samuel Okafor", "talks", None, 4),  # "between X and Y"
    ("Ines Duarte", "Olaf Lindqvist", "discussed", None, 5),  # "X and Y discussed"
    ("Lars Berg", "Moreau", "talks", "on Thursday", 8),  # "held talks with"
}
# Reports of talks that did not happen, or of something other than talking, next to real ones.
DENIALS = """Putin spoke about Biden at length.

Macron spoke to reporters after meeting Olaf Scholz.

The meeting between Joe Biden and Xi Jinping was cancelled.

Talks between Joe Biden and Xi Jinping will resume next week.

Rishi Sunak denied that he had spoken with Elon Musk.

Emmanuel Macron, who met Giorgia Meloni on Friday, said little.

Antony Blinken cancelled his meeting with Wang Yi.
"""
DENIALS_LINKS = {
    ("Emmanuel Macron", "Olaf Scholz", "met", None, 2),  # "Macron" is Emmanuel Macron
    ("Emmanuel Macron", "Giorgia Meloni", "met", "on Friday", 6),  # "who met"
}
HARBOUR = """Harbour talks resumed in Lisbon.

Foreign Minister Tomas Herrera spoke with Nadia Petrova on Friday.

Later, Herrera met Brandt.
"""


def _document(tmp_path: Path, name: str, text: str) -> Document:
    path = tmp_path / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    return read_document(path, name, path.name)


def _named_links(graph: RelationGraph) -> set[tuple[str, str, str, str | None, int]]:
    found = set()
    for link in graph.links:
        a, b = sorted((graph.node(link.source).name, graph.node(link.target).name))
        for evidence in link.evidence:
            found.add((a, b, link.kind, link.when, evidence.paragraph))
    return found


def _sorted(links: set[tuple[str, str, str, str | None, int]]) -> set[tuple[str, ...]]:
    return {(*sorted(k[:2]), *map(str, k[2:])) for k in links}


def test_summit_links_are_exactly_those_stated(tmp_path: Path) -> None:
    document = _document(tmp_path, "summit", SUMMIT)
    graph = merge([(document, extract_document(document))])
    assert _sorted(_named_links(graph)) == _sorted(SUMMIT_LINKS)


def test_cancelled_future_and_denied_talks_are_not_links(tmp_path: Path) -> None:
    document = _document(tmp_path, "denials", DENIALS)
    graph = merge([(document, extract_document(document))])
    assert _sorted(_named_links(graph)) == _sorted(DENIALS_LINKS)


def test_criticism_plans_refusals_and_denials_are_not_links(tmp_path: Path) -> None:
    document = _document(tmp_path, "summit", SUMMIT)
    graph = merge([(document, extract_document(document))])
    pairs = {frozenset((graph.node(k.source).name, graph.node(k.target).name)) for k in graph.links}
    assert frozenset(("Samuel Okafor", "Tomas Herrera")) not in pairs  # criticised his remarks
    assert frozenset(("Dieter Brandt", "Olaf Lindqvist")) not in pairs  # would meet
    assert all("Petrova" not in name for p in pairs for name in p)  # refused; had not spoken


def test_evidence_descriptions_and_times_are_verbatim_slices(tmp_path: Path) -> None:
    document = _document(tmp_path, "summit", SUMMIT)
    extraction = extract_document(document)
    text = document.text
    for link in extraction.links:
        sentence = text[link.start : link.end]
        assert document.paragraph_of(link.start) == link.paragraph
        if link.when is not None:
            assert text[link.when.start : link.when.end] == link.when.text
            assert link.start <= link.when.start < link.when.end <= link.end
        assert sentence.strip() == sentence and sentence
    described = {e.name: e.description for e in extraction.entities if e.description}
    berg = described["Lars Berg"]
    assert berg is not None and berg.text == "the commander of the northern fleet"
    assert text[berg.start : berg.end] == berg.text


def test_titles_and_surnames_merge_within_a_document(tmp_path: Path) -> None:
    document = _document(tmp_path, "summit", SUMMIT)
    names = {e.name for e in extract_document(document).entities}
    assert "Herrera" not in names and "Kowalczyk" not in names and "Berg" not in names
    assert {"Tomas Herrera", "Anna Kowalczyk", "Lars Berg"} <= names


def test_across_documents_only_exact_full_names_merge(tmp_path: Path) -> None:
    summit = _document(tmp_path, "summit", SUMMIT)
    harbour = _document(tmp_path, "harbour", HARBOUR)
    graph = merge([(d, extract_document(d)) for d in (summit, harbour)])
    herrera = [n for n in graph.nodes if n.name == "Tomas Herrera"]
    assert len(herrera) == 1  # the same full name in both documents is one node
    links = graph.around(herrera[0].id).links
    assert {e.document for k in links for e in k.evidence} == {"summit", "harbour"}
    # A bare "Brandt" in another document is not taken for the summit's Dieter Brandt.
    brandts = {n.id for n in graph.nodes if n.name.endswith("Brandt")}
    assert len(brandts) == 2


def test_the_default_article_gives_every_conversation_and_nothing_else() -> None:
    path = ROOT / "corpus" / "dirty-bomb-claims.txt"
    document = read_document(path, "dirty-bomb-claims", path.name)
    graph = merge([(document, extract_document(document))])
    named = {
        (*sorted(k[:2]), k[3], k[4])
        for k in _named_links(graph)
        if not any(n.startswith("counterparts") for n in k[:2])
    }
    assert named == {
        ("Jens Stoltenberg", "Lloyd Austin", "on Monday", 8),
        ("Ben Wallace", "Jens Stoltenberg", "on Monday", 8),
        ("Lloyd Austin", "Sergei Shoigu", "Sunday", 10),
        ("Ben Wallace", "Sergei Shoigu", "Sunday", 10),
        ("Sebastien Lecornu", "Sergei Shoigu", "Sunday", 10),
        ("Mark Milley", "Valery Gerasimov", "On Monday", 13),
        ("Tony Radakin", "Valery Gerasimov", "On Monday", 13),
    }
    unnamed = [n for n in graph.nodes if n.unnamed]
    assert sorted(n.name for n in unnamed) == [
        "counterparts in the United States and the United Kingdom",
        "counterparts in the United States, the United Kingdom, and France",
    ]
    for link in graph.links:
        for evidence in link.evidence:
            assert document.text[evidence.start : evidence.end] == evidence.text
    radakin = next(n for n in graph.nodes if n.name == "Tony Radakin")
    assert radakin.description == "the chief of the British defense command"


def test_cache_is_reused_and_dropped_with_its_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summit = _document(tmp_path, "summit", SUMMIT)
    harbour = _document(tmp_path, "harbour", HARBOUR)
    index = tmp_path / "index"
    first, _ = sync_relations(index, [summit, harbour])
    assert len(list((index / "relations").glob("*.json"))) == 2

    def refuse(document: Document) -> None:
        raise AssertionError(f"{document.doc_id} was extracted again")

    monkeypatch.setattr("index.relations.graph.extract_document", refuse)
    again, _ = sync_relations(index, [summit, harbour])
    assert again.as_node_link() == first.as_node_link()
    only, _ = sync_relations(index, [summit])
    assert len(list((index / "relations").glob("*.json"))) == 1
    assert {e.document for k in only.links for e in k.evidence} == {"summit"}


def test_a_damaged_cache_file_is_extracted_again(tmp_path: Path) -> None:
    summit = _document(tmp_path, "summit", SUMMIT)
    index = tmp_path / "index"
    first, _ = sync_relations(index, [summit])
    (cache,) = (index / "relations").glob("*.json")
    cache.write_text('{"version": 1, "entit', encoding="utf-8")
    again, _ = sync_relations(index, [summit])
    assert again.as_node_link() == first.as_node_link()
    assert json.loads(cache.read_text(encoding="utf-8"))["links"]


def test_node_link_json_loads_into_networkx(tmp_path: Path) -> None:
    import networkx as nx

    document = _document(tmp_path, "summit", SUMMIT)
    data = merge([(document, extract_document(document))]).as_node_link()
    assert set(data["nodes"][0]) >= {"id", "name", "description"}
    assert set(data["links"][0]) >= {"source", "target", "kind", "when", "evidence"}
    assert set(data["links"][0]["evidence"][0]) == {"document", "paragraph", "start", "end", "text"}
    graph = nx.node_link_graph(json.loads(json.dumps(data)), edges="links")
    assert graph.number_of_edges() == len(SUMMIT_LINKS)


def test_queries_by_person_document_and_bad_names(tmp_path: Path) -> None:
    summit = _document(tmp_path, "summit", SUMMIT)
    harbour = _document(tmp_path, "harbour", HARBOUR)
    graph = merge([(d, extract_document(d)) for d in (summit, harbour)])
    by_title = query_relations(graph, person="Admiral Berg")
    assert by_title.answered and by_title.person and by_title.person.name == "Lars Berg"
    assert len(by_title.graph.links) == 1
    misspelt = query_relations(graph, person="Kowalczik")
    assert not misspelt.answered and "no one by that name" in misspelt.reason.lower()
    assert "Anna Kowalczyk" in misspelt.suggestions
    harbour_only = query_relations(graph, document="harbour")
    assert {e.document for k in harbour_only.graph.links for e in k.evidence} == {"harbour"}
    quiet = _document(tmp_path, "quiet", "The harbour froze early this year.\n")
    nothing = query_relations(merge([(quiet, extract_document(quiet))]))
    assert not nothing.answered and "No one" in nothing.reason


def test_who_spoke_questions_are_recognised(tmp_path: Path) -> None:
    document = _document(tmp_path, "summit", SUMMIT)
    graph = merge([(document, extract_document(document))])
    everyone = relations_for_question(graph, "Who spoke with whom?")
    assert everyone is not None and len(everyone.graph.links) == len(graph.links)
    one = relations_for_question(graph, "Who did Mr. Herrera talk to?")
    assert one is not None and one.person is not None and one.person.name == "Tomas Herrera"
    assert relations_for_question(graph, "What is the tariff schedule?") is None


def test_a_person_the_links_do_not_name_is_asked_about_from_passages(tmp_path: Path) -> None:
    document = _document(tmp_path, "summit", SUMMIT)
    graph = merge([(document, extract_document(document))])
    question = "Who did Rishi Sunak speak with?"
    assert relations_for_question(graph, question) is None
    note = no_link_note(graph, question)
    assert "no link" in note.lower() and "'Rishi Sunak'" in note
    assert relations_for_question(graph, "Who did Okafur meet?") is None
    assert "Samuel Okafor" in no_link_note(graph, "Who did Okafur meet?")
    assert no_link_note(graph, "Who did Mr. Herrera talk to?") == ""
    assert no_link_note(graph, "Who spoke with whom?") == ""
    assert no_link_note(graph, "What did Rishi Sunak say?") == ""


def test_an_unlinked_person_is_answered_from_passages_saying_no_link_was_found(
    tmp_path: Path,
) -> None:
    engine = one_text_engine(tmp_path, "denials.txt", DENIALS)
    question = "Who did Rishi Sunak speak with?"
    assert engine.relations_for_question(question) is None
    answer = engine.ask(question)
    assert "no link" in answer.note.lower() and "'Rishi Sunak'" in answer.note
    assert answer.as_json()["note"] == answer.note
    if not answer.answered:
        assert answer.note in answer.reason
    assert format_answer(answer).startswith(answer.note)
    embed = answer_embeds(answer)[0]
    assert answer.note in (embed.footer.text or "") + (embed.description or "")
    assert engine.ask("What did Antony Blinken cancel?").note == ""


def test_the_default_article_is_drawn_without_overlapping_labels() -> None:
    path = ROOT / "corpus" / "dirty-bomb-claims.txt"
    document = read_document(path, "dirty-bomb-claims", path.name)
    picture = draw(merge([(document, extract_document(document))]))
    assert picture.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert picture.shown == 10 and picture.left_out == 0 and picture.overlaps == 0


def test_a_huge_graph_is_capped_to_its_most_connected_parties() -> None:
    evidence = (Evidence("crowd", "Crowd", 1, 0, 10, "A met many."),)
    nodes = [Node("hub", "Hub Keller", "PERSON")]
    nodes += [Node(f"n{i}", f"Envoy Number {i}", "PERSON") for i in range(60)]
    links = [Link("hub", f"n{i}", "met", "on Monday", evidence) for i in range(60)]
    links += [Link(f"n{i}", f"n{i + 1}", "met", None, evidence) for i in range(3)]
    graph = RelationGraph(tuple(nodes), tuple(links))
    smaller, left_out = capped(graph, 10)
    assert len(smaller.nodes) == 10 and left_out == 51
    assert {"Hub Keller", "Envoy Number 1", "Envoy Number 2"} <= {n.name for n in smaller.nodes}
    picture = draw(graph, limit=10)
    assert picture.shown == 10 and picture.left_out == 51 and picture.overlaps == 0
