from workers.diagram import TARGET
from workflows.lifecycle import TRANSITIONS, state_machine_document


def test_docs_state_machine_is_current() -> None:
    assert TARGET.read_text() == state_machine_document(), "run: python -m workers.diagram"


def test_diagram_draws_every_declared_transition() -> None:
    document = state_machine_document()
    for trigger, paths in TRANSITIONS.items():
        for source, dests in paths.items():
            for dest in dests:
                edges = [x for x in document.splitlines() if f" {source} --> {dest}:" in x]
                assert edges and trigger in edges[0], (trigger, source, dest)
