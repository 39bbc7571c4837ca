"""Batch ingestion: load files, chunk them, embed the chunks and store them incrementally."""
