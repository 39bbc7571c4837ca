"""Choose ``answer.abstain_threshold`` from answer records: what each threshold would cost and
gain, computed from the first-token probabilities the answers recorded.

Every answer the model generates records how likely it was to begin with the "not found"
reply (``abstain_probability``). At a threshold τ an answer with probability ≥ τ becomes "not
found"; nothing else changes (the decision is taken before the first token). So one run of
``bench/answer_quality.py --json`` with abstention off (``RAGLINE_ANSWER__ABSTAIN_THRESHOLD='{}'``)
tells, per set and language, how many unanswerable questions each τ turns into "not found"
and how many right answers it loses. Tune on ``--half tune`` records, report on the other half.

    .venv/bin/python bench/abstain_sweep.py /tmp/aq-tune.json [--thresholds 0.05 0.1 0.2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import table

THRESHOLDS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
COLUMNS = ["set", "threshold", "correct", "right answers lost", "not found (unanswerable)"]


def outcome(records: list[dict[str, Any]], threshold: float) -> dict[str, int]:
    """Counts over ``records`` if answers with probability ≥ ``threshold`` were "not found"
    (0: as recorded)."""
    right = not_found = answerable = unanswerable = lost = 0
    for record in records:
        p = record.get("abstain_probability")
        abstains = threshold > 0 and p is not None and p >= threshold
        if record["answerable"]:
            answerable += 1
            was_right = bool(record["scores"].get("correct"))
            right += was_right and not abstains
            lost += was_right and abstains
        else:
            unanswerable += 1
            not_found += bool(record["not_found"]) or abstains
    return {
        "right": right,
        "answerable": answerable,
        "lost": lost,
        "not_found": not_found,
        "unanswerable": unanswerable,
    }


def rows(results: list[dict[str, Any]], thresholds: tuple[float, ...]) -> list[dict[str, Any]]:
    out = []
    for result in results:
        name, records = result["row"]["set"], result["report"]["records"]
        for threshold in (0.0, *thresholds):
            n = outcome(records, threshold)
            out.append(
                {
                    "set": name,
                    "threshold": threshold or "off",
                    "correct": f"{n['right']}/{n['answerable']}",
                    "right answers lost": n["lost"],
                    "not found (unanswerable)": f"{n['not_found']}/{n['unanswerable']}",
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("records", nargs="+", type=Path, help="bench/answer_quality.py --json")
    parser.add_argument("--thresholds", nargs="+", type=float, default=list(THRESHOLDS))
    args = parser.parse_args()
    results = [r for path in args.records for r in json.loads(path.read_text(encoding="utf-8"))]
    print(table(rows(results, tuple(args.thresholds)), COLUMNS))


if __name__ == "__main__":
    main()
