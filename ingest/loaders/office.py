"""Legacy binary Office files (.doc, .ppt; .xls when xlrd cannot read it), converted by
headless LibreOffice to their OOXML successor and read like those.

Each conversion runs in a fresh temporary folder with its own LibreOffice profile, so worker
processes convert in parallel without sharing (or locking) a profile, and nothing is left
behind; it is killed, with every process it started, after ``ingest.office_timeout_s``.
Password-protected files are refused before LibreOffice sees them (it would wait for a
password).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ragline.ingest.decode import looks_binary
from ragline.ingest.elements import Element
from ragline.ingest.loaders.guards import CFB_MAGIC, PASSWORD_PROTECTED
from ragline.ingest.loaders.partition import Partitioner, one_line
from ragline.ingest.settings import IngestSettings
from ragline.retrieval.errors import LoaderError

_FLAGS = ("--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck")
_XLSX = Partitioner("xlsx", "partition_xlsx")
_SNIFF_BYTES = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"


class Legacy:
    """A loader converting a legacy file to ``target`` (``docx``, ``pptx``, ``xlsx``), then
    reading the result with ``then``."""

    def __init__(self, target: str, then: Partitioner) -> None:
        self.target = target
        self.then = then

    def __call__(self, path: Path, settings: IngestSettings) -> list[Element]:
        refuse_junk(path)
        refuse_encrypted(path)
        with tempfile.TemporaryDirectory(prefix="ragline-soffice-") as folder:
            converted = convert(path, self.target, Path(folder), settings.office_timeout_s)
            return self.then(converted, settings)


def load_xls(path: Path, settings: IngestSettings) -> list[Element]:
    """Excel 97–2003: read directly (xlrd, through unstructured); LibreOffice only when that
    fails and LibreOffice is installed."""
    refuse_junk(path)
    refuse_encrypted(path)
    try:
        return _XLSX(path, settings)
    except LoaderError:
        if soffice() is None:
            raise
    return Legacy("xlsx", _XLSX)(path, settings)


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def refuse_junk(path: Path) -> None:
    """Legacy Office files are OLE2 containers (some are OOXML, RTF, HTML or text under the old
    name, which LibreOffice reads too); other binary data LibreOffice would import as text."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.startswith((CFB_MAGIC, _ZIP_MAGIC)) and looks_binary(head):
        raise LoaderError(f"not a legacy Office {path.suffix.lower()} file (no OLE2 header)")


def refuse_encrypted(path: Path) -> None:
    try:
        import msoffcrypto

        with path.open("rb") as handle:
            encrypted = bool(msoffcrypto.OfficeFile(handle).is_encrypted())
    except Exception:  # not an OLE2 container (RTF or HTML saved as .doc): LibreOffice decides
        return
    if encrypted:
        raise LoaderError(PASSWORD_PROTECTED)


def convert(path: Path, target: str, folder: Path, timeout: float) -> Path:
    """Convert ``path`` into ``folder``; returns the converted file."""
    program = soffice()
    suffix = path.suffix.lower()
    if program is None:
        raise LoaderError(
            f"cannot read {suffix} files here: install LibreOffice (soffice) to convert them"
        )
    # A plain copy: LibreOffice mishandles some file names (leading dashes, odd characters).
    source = folder / f"input{suffix}"
    shutil.copyfile(path, source)
    out = folder / "out"
    command = [
        program,
        f"-env:UserInstallation={(folder / 'profile').as_uri()}",
        *_FLAGS,
        "--convert-to",
        target,
        "--outdir",
        str(out),
        str(source),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so a timeout kills soffice.bin too
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise LoaderError(f"LibreOffice conversion took longer than {timeout:g} s") from None
    finally:
        _kill_group(process)  # a helper it left running must not outlive the conversion
    result = out / f"input.{target}"
    if not result.is_file() or result.stat().st_size == 0:
        reason = _first_error(stderr.decode("utf-8", "replace"))
        raise LoaderError(f"LibreOffice could not convert the {suffix} file{reason}")
    return result


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait()


def _first_error(stderr: str) -> str:
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and "javaldx" not in line and not line.startswith("Warning")
    ]
    return f": {one_line(RuntimeError(lines[0]))}" if lines else ""
