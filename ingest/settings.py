"""The ingest layer's settings section, and :class:`IngestConfig`, the view it reads."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ragline.retrieval.settings import KernelConfig


class IngestSettings(BaseModel):
    workers: int = Field(0, ge=0, description="Parser processes; 0 = one per core.")
    max_file_mb: float = Field(100.0, gt=0)
    pdf_ocr: bool = Field(True, description="OCR PDFs without a text layer (tesseract).")
    max_unzipped_mb: float = Field(
        500.0, gt=0, description="Office files that inflate beyond this are refused."
    )
    file_timeout_s: float = Field(
        300.0, gt=0, description="A file whose parsing takes longer fails (the parser is killed)."
    )
    flush_chunks: int = Field(
        256, ge=1, description="Chunks embedded and written per round (bounds memory)."
    )
    image_ocr: bool = Field(
        True, description="Read images (PNG, JPEG, TIFF, BMP, GIF, WebP, HEIC) with OCR."
    )
    ocr_languages: list[str] = Field(
        default_factory=lambda: ["eng", "chi_sim"],
        min_length=1,
        description="Tesseract languages for OCR (installed ones are used; e.g. jpn, kor).",
    )
    office_timeout_s: float = Field(
        120.0, gt=0, description="Longest LibreOffice conversion of a .doc/.ppt/.xls file."
    )
    email_attachments: bool = Field(
        False, description="Ingest e-mail attachments as documents of their own (mail.eml!/a.pdf)."
    )
    max_xml_mb: float = Field(20.0, gt=0, description="Larger XML files are refused.")
    archive_max_depth: int = Field(
        3, ge=1, description="Deepest nesting of archives (and attachments) that is opened."
    )
    archive_max_members: int = Field(
        10_000, ge=1, description="Most files one archive (with what it nests) may hold."
    )
    prune_max_share: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="--prune refuses to remove more than this share of a collection's "
        "documents (unless --force).",
    )


class IngestConfig(KernelConfig):
    """The kernel's sections plus ``ingest``: what ingestion reads."""

    ingest: IngestSettings = Field(default_factory=IngestSettings)
