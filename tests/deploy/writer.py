"""One writer of a collection, run as its own process by the lock race test:

    python -m tests.deploy.writer DATA COLLECTION DOCS TAG GO_FILE [CHROMA_URL] [--no-lock]

Loads the model, prints "ready", waits for GO_FILE (so two writers start together), then
ingests DOCS with every text suffixed by TAG (two writers write different chunks for the
same documents) in rounds of a few chunks, and prints its report as JSON. Recording a round
in the catalog takes 0.2 s longer, as on a slow disk: long enough for the other writer to
read the same documents' state in between. ``--no-lock`` runs without the write lock, to
see what it prevents: chunks in the store that the catalog does not know."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ragline.ingest import pipeline
from ragline.ingest.engines import LocalEngine
from ragline.ingest.parsing import Parsed
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.catalog import Catalog
from ragline.retrieval.embedders import load_embedder
from ragline.retrieval.settings import EmbeddingSettings, StoreSettings
from ragline.settings import Settings


class TaggedEngine(LocalEngine):
    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag

    def parse(
        self, paths: Iterable[Path], settings: IngestSettings, workers: int
    ) -> Iterator[Parsed]:
        for parsed in super().parse(paths, settings, workers):
            elements = tuple(
                dataclasses.replace(e, text=f"{e.text} (written by {self.tag})")
                for e in parsed.elements
            )
            yield dataclasses.replace(parsed, elements=elements)


def main(argv: list[str]) -> None:
    no_lock = "--no-lock" in argv
    data, name, docs, tag, go, *rest = [a for a in argv if a != "--no-lock"]
    settings = Settings(
        data_dir=Path(data),
        ingest=IngestSettings(flush_chunks=3, workers=1),
        embedding=EmbeddingSettings(cache=False),
        store=StoreSettings(chroma_url=rest[0] if rest else ""),
    )
    model = load_embedder("minilm", settings.embedding)
    model.embed_documents(["warm up"])
    begin = Catalog.begin_writes

    def slow_begin(self: Catalog, *args: object, **kwargs: object) -> None:
        time.sleep(0.2)
        begin(self, *args, **kwargs)  # type: ignore[arg-type]

    Catalog.begin_writes = slow_begin  # type: ignore[method-assign]
    if no_lock:
        pipeline.write_lock = lambda *_a, **_k: contextlib.nullcontext()  # type: ignore[assignment]
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.01)
    ingestor = pipeline.Ingestor(
        settings, name, embedder="minilm", model=model, workers=1, engine=TaggedEngine(tag)
    )
    report = ingestor.run([Path(docs)])
    print(json.dumps(report.to_dict()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
