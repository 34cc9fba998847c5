"""The state diagram is drawn from the transition table; bars scale to the largest value."""

from api.charts import bars, state_diagram
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
