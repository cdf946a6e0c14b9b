"""Microsoft's recorded payloads (tests/simulator/graph_samples, copied from shared/), for comparing shapes."""

from __future__ import annotations

import json
from pathlib import Path

# A copy lives in the repository so a fresh clone checks fidelity anywhere; SOURCES.md there
# says where each payload comes from.
SAMPLES = Path(__file__).resolve().parent / "graph_samples"


def sample(name: str) -> dict:
    """A sample payload; a missing one is a broken test, never a silent skip."""
    return json.loads((SAMPLES / name).read_text())


def shape(doc: dict) -> dict[str, type]:
    """Key names and value types, what a client depends on."""
    return {key: type(value) for key, value in doc.items()}
