"""`python -m bot relations` and the routing of `ask`, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from tests.e2e.test_cli import run, workdir

__all__ = ["workdir"]  # the module's corpus folder fixture


def test_relations_json_png_and_person(workdir: Path, tmp_path: Path) -> None:
    picture = tmp_path / "map.png"
    result = run(workdir, "relations", "--json", "--png", str(picture))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    graph = nx.node_link_graph(data, edges="links")
    assert graph.number_of_edges() == 9
    source = (workdir / "corpus" / "dirty-bomb-claims.txt").read_text(encoding="utf-8")
    for link in data["links"]:
        for evidence in link["evidence"]:
            assert source[evidence["start"] : evidence["end"]] == evidence["text"]
    assert picture.read_bytes().startswith(b"\x89PNG")
    one = run(workdir, "relations", "--person", "Mr. Stoltenberg")
    assert one.returncode == 0, one.stderr
    assert "Jens Stoltenberg — Lloyd Austin (on Monday) ¶8" in one.stdout
    assert "Gerasimov" not in one.stdout.split("“")[0]


def test_unknown_person_and_routed_ask(workdir: Path) -> None:
    unknown = run(workdir, "relations", "--person", "Gerasimow")
    assert unknown.returncode == 1 and "No one by that name" in unknown.stdout
    assert "Valery Gerasimov" in unknown.stdout
    by_title = run(
        workdir, "relations", "--doc", "Russia's dirty bomb claims to Western defense chiefs"
    )
    assert by_title.returncode == 0 and by_title.stdout.startswith("Who spoke: 9 links")
    missing = run(workdir, "relations", "--doc", "no-such-doc")
    assert missing.returncode == 2 and "No document 'no-such-doc'" in missing.stderr
    routed = run(workdir, "ask", "Who did Gerasimov speak with?")
    assert routed.returncode == 0, routed.stderr
    assert "Valery Gerasimov — Mark Milley (On Monday) ¶13" in routed.stdout
    assert "“On Monday, a day after the discussions" in routed.stdout


def test_a_routed_ask_json_keeps_the_answer_schema_and_adds_the_graph(workdir: Path) -> None:
    plain = json.loads(run(workdir, "ask", "Who is Lloyd Austin?", "--json").stdout)
    result = run(workdir, "ask", "--json", "Who did Stoltenberg speak with?")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == set(plain) | {"relations"}
    assert data["question"] == "Who did Stoltenberg speak with?" and data["answered"] is True
    graph = nx.node_link_graph(data["relations"], edges="links")
    assert graph.number_of_edges() == 2
    # Both links rest on one sentence, quoted once, with the fields of any answer's quote.
    [quote] = data["quotes"]
    assert set(quote) == set(plain["quotes"][0])
    source = (workdir / "corpus" / "dirty-bomb-claims.txt").read_text(encoding="utf-8")
    assert source[quote["start"] : quote["end"]] == quote["text"]
    assert quote["paragraph"] == 8 and "Lloyd Austin" in quote["text"]
    evidence = {(e["start"], e["end"]) for k in data["relations"]["links"] for e in k["evidence"]}
    assert evidence == {(quote["start"], quote["end"])}
