"""Parsers that misbehave on purpose, importable by worker processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ragline.ingest.parsing import Parsed, parse_file
from ragline.ingest.settings import IngestSettings


def crash_or_hang(path: Path, settings: IngestSettings) -> Parsed:
    if path.name.startswith("crash"):
        os.abort()  # a native library segfaulting takes the whole worker down
    if path.name.startswith("hang"):
        time.sleep(3600)
    return parse_file(path, settings)
