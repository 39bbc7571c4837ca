"""ragline: retrieval-augmented answers with verified citations.

Subpackages by layer, each importing only those below it (checked by import-linter):
``ragline.cli`` / ``ragline.asgi`` ← ``ragline.settings`` ← ``ragline.server`` / ``ragline.eval``
← ``ragline.answer`` ← ``ragline.cache`` / ``ragline.llm`` ← ``ragline.ingest`` ←
``ragline.retrieval`` (the kernel). Each layer owns its settings sections (its ``settings``
module); ``ragline.settings`` composes them into the one object the entry points load.
Importing ``ragline`` imports nothing else.
"""
