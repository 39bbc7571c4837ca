"""Quality gate on real labelled data: ragline's hybrid retrieval on python-faq must keep its
measured nDCG@10 (minus 0.02 of slack), so retrieval quality cannot silently drop.

Skipped when ../shared/eval-data/python-faq is absent. The eval index is kept in
``.ragline/eval-tests`` (or ``$RAGLINE_EVAL_TEST_DATA_DIR``): the first run embeds the corpus
(minutes on a CPU), later runs reuse it. Measured with::

    RAGLINE_DATA_DIR=.ragline/eval-tests ragline eval run \\
        --dataset ../shared/eval-data/python-faq --config hybrid.toml --no-baselines --report OUT

where hybrid.toml holds ``mode = "hybrid"`` and ``embedder = "minilm"`` (everything else at
its default).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EVAL_DATA

ROOT = Path(__file__).resolve().parents[2]
DATASET = EVAL_DATA / "python-faq"
MEASURED_NDCG10 = 0.8068  # fp32, 4 runs on one index: 0.8068, 0.8068, 0.8070, 0.8032;
# bf16 embeddings (the default on CPUs with native bf16): 0.8065
GATE = math.floor((MEASURED_NDCG10 - 0.02) * 1000) / 1000  # 0.786

pytestmark = pytest.mark.evaldata


@pytest.mark.skipif(not (DATASET / "corpus.jsonl").is_file(), reason="no ../shared/eval-data")
@pytest.mark.timeout(3600)  # the first run embeds 534 documents
def test_hybrid_on_python_faq_meets_its_gate(tmp_path: Path) -> None:
    data_dir = Path(os.environ.get("RAGLINE_EVAL_TEST_DATA_DIR", ROOT / ".ragline" / "eval-tests"))
    config = tmp_path / "hybrid.toml"
    config.write_text('name = "ragline hybrid"\nmode = "hybrid"\nembedder = "minilm"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env["RAGLINE_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [
            sys.executable, "-m", "ragline", "eval", "run", "--quiet",
            "--dataset", str(DATASET), "--config", str(config), "--no-baselines",
            "--report", str(tmp_path / "report"), "--fail-under", f"ndcg@10={GATE}",
        ],
        env=env,
        cwd=tmp_path,  # no ragline.toml from the checkout
        capture_output=True,
        text=True,
        timeout=3600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    value = report["configs"][0]["summary"]["ndcg@10"]["mean"]
    assert value >= GATE
    assert report["dataset"]["queries"] == 176
