"""Where a trained model came from, as both training scripts record it in the model file."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
LICENCE = "SQuAD 2.0, CC BY-SA 4.0, Rajpurkar, Jia and Liang (2018)"


def data_record(path: Path, articles: Iterable[Any], **counts: int) -> dict[str, Any]:
    """The training file's name, sha256 and articles, the given counts, and its licence."""
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "articles": [str(a) for a in articles], **counts, "licence": LICENCE}


def trained_at_commit() -> str | None:
    """The repository's short commit, or None outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
