"""ragline: retrieval-augmented answers with verified citations.

Subpackages by layer, each importing only those below it (checked by import-linter):
``ragline.cli`` ← ``ragline.server`` / ``ragline.eval`` ← ``ragline.answer`` ←
``ragline.cache`` / ``ragline.llm`` ← ``ragline.ingest`` ← ``ragline.retrieval`` (the kernel).
Importing ``ragline`` imports nothing else.
"""
