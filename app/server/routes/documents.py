"""Collections, uploads (background ingestion jobs), jobs and document deletion.

The upload guard (``ragline.server.guard``) has checked the key and the body size before
these routes run. Uploads land in ``uploads/<collection>/`` (operator keys) or
``uploads/<collection>/@<tenant>/`` (tenant keys), so two tenants' files never share a
path (a document's id is its path); their chunks carry the tenant."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from ragline.ingest.loaders import SUPPORTED_SUFFIXES, is_supported
from ragline.retrieval.collection import Collection, list_collections
from ragline.retrieval.errors import RaglineError
from ragline.retrieval.locks import storage_error, write_lock
from ragline.server.openapi import KEYED, ErrorBody, errors
from ragline.server.security import Caller, ReadKey, WriteKey
from ragline.server.settings import ServerConfig
from ragline.server.state import StateDep

router = APIRouter(prefix="/v1", tags=["collections"])
_SAFE = re.compile(r"[^A-Za-z0-9._ \-\u0080-\uffff]")
_TYPES = {
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/html": ".html",
    "text/csv": ".csv",
    "application/json": ".json",
    "application/pdf": ".pdf",
    "application/rtf": ".rtf",
    "application/epub+zip": ".epub",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
CONTENT_TYPES = {t: s for t, s in _TYPES.items() if s in SUPPORTED_SUFFIXES}
"""Part content types that name a file's type when its name does not."""
UPLOAD_SCHEMA = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "encoding": {"files": {"contentType": ", ".join(CONTENT_TYPES)}}
            }
        }
    }
}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
CollectionName = Annotated[
    str, PathParam(pattern=NAME_PATTERN, description="1-63 letters, digits, '.', '_', '-'")
]


@router.get("/collections", responses=errors(*KEYED))
def collections(state: StateDep, caller: ReadKey) -> dict[str, Any]:
    """The collections this key may use, with their counts."""
    rows = []
    for name in list_collections(state.settings):
        if caller.may_see(name):
            try:
                rows.append(state.collections.get(name).stats())
            except (OSError, sqlite3.Error, RaglineError):
                # e.g. created on a full disk: listed as unusable, the others still listed
                rows.append({"name": name, "error": "this collection cannot be opened"})
    return {"data": rows}


def safe_name(filename: str | None, content_type: str | None = None) -> str:
    """A file name to store an upload under: its own (made safe), with the suffix its part's
    content type names when its own suffix is not a supported one; 415 when neither is."""
    name = _SAFE.sub("_", Path(filename or "").name).strip(" .")[:200] or "upload"
    if is_supported(name):  # by its full format suffix: report.tar.gz, not just .gz
        return name
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared in CONTENT_TYPES:
        return name + CONTENT_TYPES[declared]
    suffix = Path(name).suffix.lower()
    raise HTTPException(415, f"unsupported file type {suffix or '(none)'}: {name}")


def _distinct(names: list[str]) -> list[str]:
    """``names`` with repeats numbered (``a.md``, ``a-2.md``): two files, two documents."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem, suffix = Path(name).stem, Path(name).suffix
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{stem}-{n}{suffix}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def uploads_dir(settings: ServerConfig, collection: str, tenant: str) -> Path:
    """Where files uploaded into ``collection`` by ``tenant`` ("" = operator) are kept."""
    folder = settings.data_dir / "uploads" / collection
    return folder / f"@{tenant}" if tenant else folder


@router.post(
    "/collections/{name}/documents",
    status_code=202,
    responses=errors(400, *KEYED, 413, 415, 422, 503),
    openapi_extra=UPLOAD_SCHEMA,
)
async def upload(
    name: CollectionName,
    state: StateDep,
    caller: WriteKey,
    files: Annotated[
        list[UploadFile],
        File(
            min_length=1,
            description="one or more documents; a file's type comes from its name, else from "
            "its part's Content-Type",
        ),
    ],
) -> dict[str, Any]:
    """Store the files and queue their ingestion; poll ``status_url`` for the job."""
    caller.check_collection(name)
    server = state.settings.server
    if len(files) > server.max_upload_files:  # the schema's maxItems
        raise RequestValidationError(
            [{"loc": ("body", "files"), "msg": f"at most {server.max_upload_files} files"}]
        )
    names = _distinct([safe_name(f.filename, f.content_type) for f in files])
    folder = uploads_dir(state.settings, name, caller.tenant)
    limit = int(server.max_upload_mb * 1024 * 1024)
    staged: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for upload_file, filename in zip(files, names, strict=True):
            # A unique temporary name: two uploads of one file name never write one file.
            tmp = folder / f".{secrets.token_hex(8)}.{filename}.part"
            staged.append(tmp)
            await _stage(upload_file, tmp, filename, limit, server.max_upload_mb)
        for tmp, filename in zip(staged, names, strict=True):
            os.replace(tmp, folder / filename)  # all files passed: none is refused after this
    except OSError as exc:  # a full or read-only disk: 503 with one line, not a 500
        raise storage_error(exc, "the upload") from None
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)  # a failed upload leaves nothing behind
    job = state.jobs.submit(
        name, [folder / n for n in names], owner=caller.identity, tenant=caller.tenant
    )
    return {"job_id": job.id, "status_url": f"/v1/jobs/{job.id}", "files": names}


async def _stage(
    upload_file: UploadFile, tmp: Path, filename: str, limit: int, limit_mb: float
) -> None:
    size = 0
    with tmp.open("wb") as out:
        while block := await upload_file.read(1 << 20):
            size += len(block)
            if size > limit:
                raise HTTPException(413, f"{filename} is larger than {limit_mb:g} MB")
            await run_in_threadpool(out.write, block)


@router.get("/jobs/{job_id}", responses=errors(*KEYED, 404))
def job_status(job_id: str, state: StateDep, caller: WriteKey) -> dict[str, Any]:
    """An upload's ingestion job, to the key that uploaded it (or an operator key)."""
    job = state.jobs.get(job_id)
    if job is None or not (job.owner == caller.identity or caller.operator):
        raise HTTPException(404, f"no job {job_id}")
    result: dict[str, Any] = job.to_dict()
    return result


def _owned(caller: Caller, settings: ServerConfig, collection: str, source: str) -> bool:
    """Whether ``caller`` may delete the document stored from ``source``: operator keys any,
    tenant keys only what their tenant uploaded."""
    if caller.operator:
        return True
    if not caller.tenant:
        return False
    folder = uploads_dir(settings, collection, caller.tenant).resolve()
    return Path(source).resolve().parent == folder


LOCKED: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "Another writer (an ingestion, an upload's job) holds the collection "
        "longer than this request waits (see Retry-After).",
    }
}
DELETE_WAIT_S = 30.0
"""Longest wait of a deletion for the collection's write lock (then 409)."""


@router.delete(
    "/collections/{name}/documents/{doc_id}", responses={**errors(*KEYED, 404, 503), **LOCKED}
)
async def delete_document(
    name: CollectionName, doc_id: str, state: StateDep, caller: WriteKey
) -> dict[str, Any]:
    """Delete a document, its chunks, its cached answers and (if uploaded) its file."""
    caller.check_collection(name)
    settings = state.settings

    def remove() -> tuple[int, int, str | None]:
        if not Collection.exists(name, settings):
            return 0, 0, None
        wait = min(settings.store.write_lock_timeout_s, DELETE_WAIT_S)
        with (
            write_lock(settings.collections_dir, name, "delete document", wait),
            Collection.open(
                name, settings, on_chunks_removed=state.collections.on_chunks_removed
            ) as collection,
        ):
            record = collection.catalog.document(doc_id)
            if record is None or not _owned(caller, settings, name, record.source):
                return 0, 0, None
            documents, chunks = collection.remove_documents([doc_id])
        return documents, chunks, record.source

    documents, chunks, source = await run_in_threadpool(state.jobs.run_exclusive, remove)
    if not documents:
        raise HTTPException(404, f"no document {doc_id} in collection {name}")
    uploads = (settings.data_dir / "uploads" / name).resolve()
    if source and uploads in Path(source).resolve().parents:
        Path(source).unlink(missing_ok=True)
    return {"deleted": doc_id, "chunks_removed": chunks}
