"""The recorded Microsoft payloads in shared/graph_samples, for comparing shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# shared/ sits beside the repository, on developer machines and in CI alike.
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "graph_samples"


def sample(name: str) -> dict:
    """A sample payload, or skip the test when shared/ is not beside the repository."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {name} not found in {SAMPLES}")
    return json.loads(path.read_text())


def shape(doc: dict) -> dict[str, type]:
    """Key names and value types, what a client depends on."""
    return {key: type(value) for key, value in doc.items()}
