"""Write docs/state-machine.md from the state machine itself."""

from __future__ import annotations

import sys
from pathlib import Path

from workflows.lifecycle import state_machine_document

TARGET = Path(__file__).resolve().parent.parent / "docs" / "state-machine.md"


def main(argv: list[str]) -> int:
    text = state_machine_document()
    if "--check" in argv:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run python -m workers.diagram", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
