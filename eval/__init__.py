"""Evaluation: BEIR and QA datasets, retrieval and answer metrics, runs, sweeps and reports.

Importing this package loads nothing heavy; each module imports numpy, matplotlib, the
retrieval backends or LangChain only inside the functions that need them.
"""
