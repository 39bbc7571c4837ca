"""Collections, uploads (background ingestion jobs), jobs and document deletion."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from ragline.ingest.loaders import SUPPORTED_SUFFIXES
from ragline.retrieval.collection import Collection, check_name, list_collections
from ragline.server.security import ReadKey, WriteKey
from ragline.server.state import StateDep

router = APIRouter(prefix="/v1", tags=["collections"])
_SAFE = re.compile(r"[^A-Za-z0-9._ \-\u0080-\uffff]")


@router.get("/collections")
def collections(state: StateDep, _: ReadKey) -> dict[str, Any]:
    rows = []
    for name in list_collections(state.settings):
        rows.append(state.collections.get(name).stats())
    return {"data": rows}


def safe_name(filename: str | None) -> str:
    name = _SAFE.sub("_", Path(filename or "").name).strip(" .")
    if not name:
        raise HTTPException(422, "an uploaded file has no usable name")
    return name[:200]


@router.post("/collections/{name}/documents", status_code=202)
async def upload(
    name: str,
    request: Request,
    state: StateDep,
    _: WriteKey,
    files: Annotated[list[UploadFile], File(description="one or more documents")],
) -> dict[str, Any]:
    check_name(name)
    limit = int(state.settings.server.max_upload_mb * 1024 * 1024)
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit * max(1, len(files)) + 1024 * 1024:
        raise HTTPException(
            413, f"upload is larger than {state.settings.server.max_upload_mb:g} MB per file"
        )
    names = [safe_name(f.filename) for f in files]
    for filename in names:
        suffix = Path(filename).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise HTTPException(415, f"unsupported file type {suffix or '(none)'}: {filename}")
    folder = state.settings.data_dir / "uploads" / name
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    for upload_file, filename in zip(files, names, strict=True):
        saved.append(
            await _save(upload_file, folder / filename, limit, state.settings.server.max_upload_mb)
        )
    job = state.jobs.submit(name, saved)
    return {"job_id": job.id, "status_url": f"/v1/jobs/{job.id}", "files": names}


async def _save(upload_file: UploadFile, target: Path, limit: int, limit_mb: float) -> Path:
    """Stream to a temporary file and rename: a refused upload never replaces a stored one."""
    tmp = target.with_name(f".{target.name}.part")
    size = 0
    try:
        with tmp.open("wb") as out:
            while block := await upload_file.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise HTTPException(413, f"{target.name} is larger than {limit_mb:g} MB")
                out.write(block)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


@router.get("/jobs/{job_id}")
def job_status(
    job_id: str,
    state: StateDep,
    _: ReadKey,
) -> dict[str, Any]:
    job = state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    result: dict[str, Any] = job.to_dict()
    return result


@router.delete("/collections/{name}/documents/{doc_id}")
async def delete_document(
    name: str,
    doc_id: str,
    state: StateDep,
    _: WriteKey,
) -> dict[str, Any]:
    def remove() -> tuple[int, int, str | None]:
        with Collection.open(name, state.settings) as collection:
            record = collection.catalog.document(doc_id)
            source = record.source if record else None
            documents, chunks = collection.remove_documents([doc_id])
        return documents, chunks, source

    documents, chunks, source = await run_in_threadpool(state.jobs.run_exclusive, remove)
    if not documents:
        raise HTTPException(404, f"no document {doc_id} in collection {name}")
    uploads = (state.settings.data_dir / "uploads" / name).resolve()
    if source and Path(source).resolve().parent == uploads:
        Path(source).unlink(missing_ok=True)
    return {"deleted": doc_id, "chunks_removed": chunks}
