"""A tiny labelled BEIR set the eval tests write: ten short documents on distinct topics,
eight queries (one with graded judgments, one whose answer is hard to find)."""

from __future__ import annotations

from pathlib import Path

from ragline.eval.datasets import CorpusDoc, write_beir

DOCS = {
    "redis-persist": (
        "Redis persistence",
        "Redis can persist data with RDB snapshots taken at intervals, or with an append-only "
        "file (AOF) that logs every write operation. Enable AOF with appendonly yes.",
    ),
    "redis-evict": (
        "Redis eviction",
        "When maxmemory is reached, Redis evicts keys according to the maxmemory-policy, "
        "such as allkeys-lru, volatile-lru or noeviction.",
    ),
    "systemd-enable": (
        "systemd services",
        "To start a service at boot, run systemctl enable NAME. systemctl start NAME starts "
        "it now; systemctl status NAME shows whether it is running.",
    ),
    "git-rebase": (
        "Git history",
        "git rebase -i lets you reorder, squash or edit commits before you push them. Never "
        "rebase commits that others have already pulled.",
    ),
    "python-venv": (
        "Python environments",
        "Create a virtual environment with python3 -m venv .venv and activate it with source "
        ".venv/bin/activate; pip then installs packages into it.",
    ),
    "sourdough": (
        "Baking bread",
        "A sourdough starter is flour and water fermented by wild yeast and lactobacilli. Feed "
        "it daily and keep it at room temperature.",
    ),
    "tomato": (
        "Gardening",
        "Tomato plants need full sun, deep watering twice a week and a stake or cage to "
        "support the stems as the fruit grows.",
    ),
    "marathon": (
        "Running",
        "Marathon training plans build the weekly long run slowly, by about ten percent a "
        "week, with a taper in the last three weeks before the race.",
    ),
    "espresso": (
        "Coffee",
        "An espresso shot forces hot water through finely ground coffee at about nine bars "
        "of pressure for twenty-five to thirty seconds.",
    ),
    "chess-castle": (
        "Chess rules",
        "Castling moves the king two squares towards a rook and puts the rook on the other "
        "side; neither piece may have moved before.",
    ),
}

QUERIES = {
    "q1": ("How do I make Redis write every operation to disk?", {"redis-persist": 1}),
    "q2": (
        "What happens in Redis when memory runs out?",
        {"redis-evict": 2, "redis-persist": 1},
    ),
    "q3": ("How can I start a service automatically at boot?", {"systemd-enable": 1}),
    "q4": ("How do I squash commits before pushing?", {"git-rebase": 1}),
    "q5": ("How do I create a Python virtual environment?", {"python-venv": 1}),
    "q6": ("How often should I feed a sourdough starter?", {"sourdough": 1}),
    "q7": ("What pressure does an espresso machine use?", {"espresso": 1}),
    # hard on purpose: the answer shares no words with the question
    "q8": ("Which piece moves two squares in that special move?", {"chess-castle": 1}),
}


def write_fixture(out: Path) -> Path:
    corpus = {d: CorpusDoc(d, title, text) for d, (title, text) in DOCS.items()}
    queries = {q: text for q, (text, _) in QUERIES.items()}
    qrels = {q: judged for q, (_, judged) in QUERIES.items()}
    write_beir(out, corpus, queries, qrels)
    return out
