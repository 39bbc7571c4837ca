"""`ragline eval run` on a QA-format set: the real answer pipeline (retrieval, prompt, citation
check, answer cache) with a scripted fake LLM, scored with eval/answer_metrics.py, reported in
JSON, Markdown and HTML, and gated with ``--fail-under answer_…``.

The fake answers each question with fixed sentences and cites the source (by its number in the
prompt) that holds the question's anchor phrase, so the citation is right exactly when
retrieval put the right document in the context; the numbers asserted below are computed by
hand from those sentences.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ragline.cli import app
from ragline.eval.answer_metrics import GATES, gate_value
from ragline.eval.answers import says_not_found, scored_text
from ragline.eval.report import Gate
from ragline.llm import BACKENDS, GenerationParams
from ragline.llm.fake import FakeLLM
from ragline.retrieval.types import Message
from ragline.settings import Settings
from tests.cache.conftest import REDIS_URL, redis_reachable
from tests.cli.run import run_ragline
from tests.eval.fixtures import DOCS, write_fixture
from tests.retrieval.fakes import BagOfWordsEmbedder
from tests.server.live import sources_in

ROOT = Path(__file__).resolve().parents[2]

Q_REDIS = "How do I make Redis write every operation to disk?"
Q_BOOT = "How can I start a service automatically at boot?"
Q_VENV = "How do I create a Python virtual environment?"
Q_NONE = "Who won the 1998 football World Cup?"
QA = [
    {"id": "q1", "question": Q_REDIS, "answers": ["appendonly yes"], "sources": ["redis-persist"]},
    {"id": "q2", "question": Q_BOOT, "answer": "systemctl enable NAME", "sources": ["systemd-enable"]},
    {"id": "q3", "question": Q_VENV, "answers": ["python3 -m venv .venv"], "sources": ["python-venv"]},
    {"id": "q4", "question": Q_NONE, "answers": [], "sources": [], "answerable": False},
]  # fmt: skip
# question → (anchor phrase locating the source to cite, sentences of the answer)
SCRIPT = {
    Q_REDIS: ("appendonly yes", ["Enable AOF with appendonly yes"]),
    Q_BOOT: ("systemctl enable NAME", ["systemctl enable NAME"]),
    Q_VENV: ("python3 -m venv", ["Create it with python3 -m venv .venv", "The moon is made of cheese"]),
}  # fmt: skip
# Hand-computed token F1 (SQuAD normalisation, citation markers removed):
# q1 "enable aof with appendonly yes" vs "appendonly yes": P 2/5, R 1 → 4/7
# q2 exact: 1.0
# q3 "create it with python3 m venv venv moon is made of cheese" (12) vs "python3 m venv venv"
#    (4): P 4/12, R 1 → 0.5
F1 = {"q1": 4 / 7, "q2": 1.0, "q3": 0.5}


def scripted_reply(messages: Sequence[Message], params: GenerationParams) -> str:
    prompt = messages[-1].content
    asked = re.findall(r"^Question: (.*)$", prompt, re.M)
    anchor, sentences = SCRIPT[asked[-1].strip()]
    numbers = [n for n, text in sources_in(messages).items() if anchor in text]
    cite = f" [{min(numbers)}]" if numbers else ""
    return " ".join(f"{s}{cite}." for s in sentences)


def write_qa(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w") as fh:
        for doc_id, (title, text) in DOCS.items():
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    (out / "qa.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QA))
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[FakeLLM]]]:
    """A data dir, the QA set, the bag-of-words embedder for MiniLM, and the "fake" LLM
    backend answering from SCRIPT (every instance it makes is kept, to count calls)."""
    root = tmp_path_factory.mktemp("eval-answers")
    write_qa(root / "qa")
    made: list[FakeLLM] = []

    def fake_backend(settings: Settings) -> FakeLLM:
        made.append(FakeLLM(default=scripted_reply, context_window=settings.llm.context_window))
        return made[-1]

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("RAGLINE_"):
                mp.delenv(key)
        mp.setenv("RAGLINE_DATA_DIR", str(root / "data"))
        mp.setenv("RAGLINE_INGEST__WORKERS", "1")
        mp.setenv("RAGLINE_CACHE__REDIS_URL", "")  # in-process cache unless a test sets Redis
        mp.setenv("RAGLINE_ANSWER__HYPOTHETICAL_LANGUAGES", "[]")  # tests.conftest.NO_EXPANSION
        # "No good context" judged on the BM25 score: the unanswerable question shares no
        # word with the corpus, while hashed bag-of-words vectors collide by chance.
        mp.setenv("RAGLINE_RETRIEVAL__NO_CONTEXT_SCORE", "bm25")
        mp.setenv("RAGLINE_RETRIEVAL__NO_CONTEXT_THRESHOLD", "1.0")
        mp.chdir(root)
        mp.setattr(
            "ragline.retrieval.embedders.load_embedder", lambda *_a, **_k: BagOfWordsEmbedder()
        )
        mp.setitem(BACKENDS, "fake", fake_backend)
        yield root, made


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["eval", "run", "--quiet", "--no-baselines", *args])


Run = tuple[Result, dict[str, Any], Path]


@pytest.fixture(scope="module")
def qa_run(workspace: tuple[Path, list[FakeLLM]]) -> Run:
    """One run with the in-process cache and two answer gates (one fails); the report's
    answers carry the fake LLM's calls (``llm_calls``) for the test that counts them."""
    root, made = workspace
    before = len(made)
    out = root / "reports" / "qa.json"
    result = invoke(
        "--dataset", "qa", "--llm", "fake", "--report", str(out),
        "--fail-under", "answer_f1=0.6", "--fail-under", "answer_em=0.5",
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert len(made) == before + 1, "one LLM per run"
    report["llm_calls"] = len(made[-1].calls)
    return result, report, out


def test_every_question_is_answered_and_recorded(qa_run: Run) -> None:
    _result, report, _out = qa_run
    answers = report["answers"]
    assert answers["config"] == report["primary"] == "ragline hybrid"
    assert answers["llm"] == {"backend": "fake", "model_id": "fake"}
    assert (answers["questions"], answers["answerable"], answers["unanswerable"]) == (4, 3, 1)
    records = {r["id"]: r for r in answers["records"]}
    assert list(records) == ["q1", "q2", "q3", "q4"]
    q1 = records["q1"]
    assert re.fullmatch(r"Enable AOF with appendonly yes \[\d\]\.", q1["text"])
    assert q1["answer"] == "Enable AOF with appendonly yes."
    assert q1["cited"] == ["redis-persist"] and q1["expected_sources"] == ["redis-persist"]
    assert q1["attributed"] == [] and q1["repointed"] == []  # the model cited its source
    assert "redis-persist" in q1["sources"] and q1["unknown_names"] == []
    assert records["q2"]["expected_answers"] == ["systemctl enable NAME"]
    assert records["q3"]["unsupported"] == [re.sub(r"^.*\. ", "", records["q3"]["text"])]
    assert records["q3"]["unsupported"][0].startswith("The moon is made of cheese [")
    q4 = records["q4"]
    assert q4["text"] == "Not found in the documents." and q4["not_found"] is True
    assert q4["context_found"] is False and q4["cited"] == []


def test_answer_metrics_match_hand_computed_values(qa_run: Run) -> None:
    _result, report, _out = qa_run
    answers = report["answers"]
    records = {r["id"]: r for r in answers["records"]}
    for qid, f1 in F1.items():
        assert records[qid]["scores"]["token_f1"] == pytest.approx(f1), qid
    s = answers["summary"]
    assert s["token_f1"] == {"mean": pytest.approx(sum(F1.values()) / 3), "n": 3}
    assert s["exact_match"] == {"mean": pytest.approx(1 / 3), "n": 3}
    assert s["citation_precision"] == {"mean": 1.0, "n": 3}
    assert s["citation_recall"] == {"mean": 1.0, "n": 3}
    assert s["unsupported"] == {"mean": 0.25, "n": 4}  # q3's cheese sentence
    assert s["not_found"] == {"mean": 1.0, "n": 1}
    gates = answers["gates"]
    assert gates["answer_f1"] == pytest.approx(sum(F1.values()) / 3)
    assert gates["supported_rate"] == pytest.approx(0.75)
    worst = min(answers["records"], key=lambda r: r["quality"])
    assert worst["id"] == "q3"  # F1 0.5 and an unsupported sentence


def test_repeated_pass_is_served_by_the_cache_without_the_llm(qa_run: Run) -> None:
    _result, report, _out = qa_run
    answers = report["answers"]
    assert answers["summary"]["cache_hit"] == {"mean": 1.0, "n": 4}
    assert all(r["cache_kind"] == "exact" for r in answers["records"])
    assert all(r["first_pass_cache"] is None for r in answers["records"])
    assert answers["cache"]["enabled"] and answers["cache"]["backend"] == "memory"
    # q4 never reaches the model (no good context); the repeated pass never does
    assert report["llm_calls"] == 3


def test_answer_gates_pass_and_fail_with_exit_1(qa_run: Run) -> None:
    result, report, _out = qa_run
    assert result.exit_code == 1, result.output
    rows = {g["metric"]: g for g in report["gates"]}
    assert rows["answer_f1"]["passed"] is True and rows["answer_f1"]["threshold"] == 0.6
    assert rows["answer_em"]["passed"] is False
    assert rows["answer_em"]["value"] == pytest.approx(1 / 3)
    assert "gate FAIL: answer_em = 0.3333 (needs ≥ 0.5)" in result.output
    assert "gate pass: answer_f1" in result.output
    assert "answers (4 questions): answer_correct 1.0000" in result.output
    assert "answer_em 0.3333, answer_f1 0.6905" in result.output


def test_reports_have_an_answers_section_with_the_worst_answers(
    qa_run: Run,
) -> None:
    _result, _report, out = qa_run
    md = out.with_suffix(".md").read_text()
    html = out.with_suffix(".html").read_text()
    for text in (md, html):
        assert "Answers of ragline hybrid (4 questions)" in text
        assert "Worst answers" in text and "The moon is made of cheese" in text
        assert "asked a second time" in text  # how the cache hit rate was measured
    assert "| token F1 | answer_f1 | 0.690 | 3 |" in md
    assert "| cache hit rate | cache_hit_rate | 1.000 | 4 |" in md
    # q3 is the worst answer and comes first in the drill-down
    drill = md.split("### Worst answers", 1)[1]
    assert drill.index(Q_VENV) < drill.index(Q_REDIS)
    assert "expected sources: python-venv" in drill


def test_no_answers_leaves_the_section_out(workspace: tuple[Path, list[FakeLLM]]) -> None:
    root, _made = workspace
    out = root / "reports" / "retrieval-only.json"
    result = invoke("--dataset", "qa", "--no-answers", "--report", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["answers"] is None and "Answers of" not in out.with_suffix(".md").read_text()


@pytest.mark.redis
def test_cache_hit_rate_on_redis_and_the_entries_are_removed(
    workspace: tuple[Path, list[FakeLLM]], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not redis_reachable():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    import redis

    root, _made = workspace
    prefix = f"ragline-test:{uuid.uuid4().hex[:12]}:"
    monkeypatch.setenv("RAGLINE_CACHE__REDIS_URL", REDIS_URL)
    monkeypatch.setenv("RAGLINE_CACHE__KEY_PREFIX", prefix)
    out = root / "reports" / "redis.json"
    result = invoke("--dataset", "qa", "--llm", "fake", "--report", str(out))
    assert result.exit_code == 0, result.output
    answers = json.loads(out.read_text())["answers"]
    assert answers["cache"]["backend"] == "redis"
    assert answers["summary"]["cache_hit"] == {"mean": 1.0, "n": 4}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert list(client.scan_iter(match=f"{prefix}*")) == []
    finally:
        client.close()


def ragline(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_ragline(*args, data_dir=data_dir)


def test_answers_on_a_beir_set_is_a_usage_error(tmp_path: Path) -> None:
    write_fixture(tmp_path / "beir")
    base = ["eval", "run", "--dataset", str(tmp_path / "beir"), "--report", str(tmp_path / "r")]
    forced = ragline(*base, "--answers", data_dir=tmp_path / "data")
    assert forced.returncode == 2, forced.stderr
    assert forced.stderr.startswith("error: --answers needs a QA-format dataset")
    assert forced.stderr.count("\n") == 1
    gated = ragline(*base, "--fail-under", "answer_f1=0.3", data_dir=tmp_path / "data")
    assert gated.returncode == 2 and "gates an answer metric" in gated.stderr
    unknown = ragline(*base, "--fail-under", "answer_bleu=0.3", data_dir=tmp_path / "data")
    assert unknown.returncode == 2 and "answer_f1" in unknown.stderr  # lists the names
    llm = ragline(*base, "--llm", "gpt-9", data_dir=tmp_path / "data")
    assert llm.returncode == 2 and "unknown --llm 'gpt-9'" in llm.stderr
    assert not (tmp_path / "data" / "eval").exists()  # refused before any index was built


def test_scored_text_drops_citation_markers_and_not_found_is_recognised() -> None:
    assert scored_text("Use python3 -m venv .venv [1]. See [2, 3].") == (
        "Use python3 -m venv .venv. See."
    )
    assert says_not_found("Not found in the documents.")
    assert says_not_found("文档中没有找到相关内容。")
    assert not says_not_found("The documents mention it [1].")


def test_answer_gates_parse_by_name() -> None:
    gate = Gate.parse("Answer_F1=0.3")
    assert (gate.metric, gate.threshold, gate.on_answers) == ("answer_f1", 0.3, True)
    assert not Gate.parse("ndcg@10=0.5").on_answers
    summary = {m: {"mean": 0.25, "n": 4} for m in GATES.values()}
    assert gate_value(summary, "supported_rate") == 0.75  # 1 − share with unsupported
    assert gate_value(summary, "answer_f1") == 0.25
    assert gate_value({**summary, "cache_hit": {"mean": None, "n": 0}}, "cache_hit_rate") is None
