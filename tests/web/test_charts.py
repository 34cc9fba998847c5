"""The state diagram is drawn from the transition table; bars scale to the largest value;
a pathway is drawn in layers."""

from api.charts import CARD_H, CARD_W, bars, pathway_drawing, state_diagram
from workflow.credentials.models import Pathway, PathwayNode
from workflow.machine import TRANSITIONS, State


def test_the_diagram_draws_every_transition_and_marks_the_current_state() -> None:
    nodes, edges = state_diagram("rubric_review")
    assert {n.state for n in nodes} == {s.value for s in State}
    assert [n.state for n in nodes if n.current] == ["rubric_review"]
    drawn = sorted(name for e in edges for name in e.label.split(", "))
    table = sorted({(row.trigger, source, row.dest) for row in TRANSITIONS
                    for source in row.source})
    assert len(edges) == len({(source, dest) for _, source, dest in table})
    assert sorted(set(drawn)) == sorted({t for t, _, _ in table})
    assert all(e.minor == (e.label == "withdraw") for e in edges)


def test_bars_scale_to_the_largest_and_say_when_there_is_no_data() -> None:
    drawn = bars({"department_review": 4.0, "rubric_review": 2.0, "design_review": None},
                 width=200)
    assert [(b.label, b.width, b.shown) for b in drawn] == [
        ("department review", 200.0, "4"), ("rubric review", 100.0, "2"),
        ("design review", 0.0, "no data")]


def pathway(edges: list[tuple[str, str]], titles: dict[str, str] | None = None,
            current: str = "b") -> Pathway:
    ids = sorted({i for edge in edges for i in edge} | set(titles or {}))
    nodes = [PathwayNode(id=i, title=(titles or {}).get(i, f"Credential {i}"), status="active")
             for i in ids]
    node = {n.id: n for n in nodes}
    return Pathway(credential=node[current], stacks_into=[], stacks_from=[], nodes=nodes,
                   edges=edges)


def test_a_pathway_is_drawn_in_layers_with_arrows_from_card_to_card() -> None:
    # a and c stack into b, b stacks into d, and a also straight into d.
    drawing = pathway_drawing(pathway([("a", "b"), ("c", "b"), ("b", "d"), ("a", "d")]))
    place = {card.id: (card.x, card.y) for card in drawing.cards}
    assert place["a"][1] == place["c"][1] < place["b"][1] < place["d"][1]
    assert [card.id for card in drawing.cards if card.current] == ["b"]
    assert drawing.widest_layer == 2
    assert all(0 <= x and x + CARD_W <= drawing.width and y + CARD_H <= drawing.height
               for x, y in place.values())
    ab = next(a for a in drawing.arrows if (a.x1, a.y1) == (place["a"][0] + CARD_W / 2,
                                                             place["a"][1] + CARD_H))
    assert (ab.x2, ab.y2) == (place["b"][0] + CARD_W / 2, place["b"][1])
    assert len(drawing.arrows) == 4


def test_a_long_title_wraps_to_two_lines_and_a_loop_in_bad_data_still_draws() -> None:
    long = "Advanced Quantitative Methods for Community Health Program Evaluation and Policy"
    drawing = pathway_drawing(pathway([("a", "b"), ("b", "a")], {"b": long}))
    card = next(c for c in drawing.cards if c.id == "b")
    assert len(card.lines) == 2 and card.lines[1].endswith("…") and card.title == long
    assert len({c.y for c in drawing.cards}) == 2
