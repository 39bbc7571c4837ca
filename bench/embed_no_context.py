"""Where to put the "no good context" threshold for an embedder: the best dense cosine of the
tune-half eval questions (in-domain) against off-topic questions, on the same collection.

Uses the collections bench/retrieval_quality.py built in the same --data-dir.

    .venv/bin/python bench/embed_no_context.py --data-dir /tmp/rq --embedder e5-small
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.common import table
from bench.retrieval_quality import SETS, load_set, settings_for
from ragline.eval.splits import select

OFF_TOPIC = {
    "en": [
        "How long should I boil an egg?",
        "Who won the football world cup in 1998?",
        "What is the capital of Australia?",
        "How do I bake sourdough bread?",
        "When did the Roman empire fall?",
        "What is a good stretching routine for runners?",
        "How many calories are in an apple?",
        "Which planets have rings?",
        "How do I knit a scarf?",
        "What causes thunderstorms?",
        "Who painted the Mona Lisa?",
        "How do I train a puppy to sit?",
        "What is the best way to learn the piano?",
        "How tall is Mount Everest?",
        "What wine goes with fish?",
        "How do tides work?",
        "Which birds migrate in winter?",
        "How do I grow tomatoes on a balcony?",
        "What are the rules of cricket?",
        "How did the printing press change Europe?",
    ],
    "zh": [
        "鸡蛋要煮多久？",
        "1998年世界杯冠军是谁？",
        "澳大利亚的首都是哪里？",
        "怎样做酸面包？",
        "罗马帝国是什么时候灭亡的？",
        "跑步前应该怎样拉伸？",
        "一个苹果有多少卡路里？",
        "哪些行星有光环？",
        "怎样织围巾？",
        "雷雨是怎么形成的？",
        "蒙娜丽莎是谁画的？",
        "怎样训练小狗坐下？",
        "学钢琴最好的方法是什么？",
        "珠穆朗玛峰有多高？",
        "吃鱼配什么葡萄酒？",
        "潮汐是怎么形成的？",
        "哪些鸟冬天会迁徙？",
        "怎样在阳台上种西红柿？",
        "板球的规则是什么？",
        "印刷术如何改变了欧洲？",
    ],
}


def best_cosines(collection: object, questions: list[str]) -> np.ndarray:
    from ragline.retrieval.embedders.base import embed_queries

    vectors = embed_queries(collection.embedder, questions)  # type: ignore[attr-defined]
    hits = collection.store.search(vectors, 1, None)  # type: ignore[attr-defined]
    return np.array([h[0].score if h else 0.0 for h in hits])


def main() -> None:
    from ragline.retrieval.collection import Collection

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--chunk-overlap", type=int, default=None)
    args = parser.parse_args()
    settings = settings_for(args.data_dir, args.chunk_size, args.chunk_overlap)
    c = settings.chunking
    rows = []
    for name, language in (("python-faq", "en"), ("debian-reference-zh", "zh")):
        corpus = (SETS[name] / "corpus.jsonl").resolve().parent.name
        collection_name = f"{corpus}-{args.embedder}-{c.size}-{c.overlap}-h"
        queries, _ = load_set(SETS[name])
        with Collection.open(collection_name, settings) as collection:
            inside = best_cosines(collection, list(select(queries, "tune").values()))
            outside = best_cosines(collection, OFF_TOPIC[language])
        for threshold in np.round(np.quantile(outside, [0.5, 0.9, 1.0]), 3).tolist():
            rows.append(
                {
                    "set": name,
                    "in-domain p5": round(float(np.quantile(inside, 0.05)), 3),
                    "off-topic median / max": f"{np.median(outside):.3f} / {outside.max():.3f}",
                    "threshold": threshold,
                    "in-domain flagged": f"{int((inside < threshold).sum())}/{len(inside)}",
                    "off-topic caught": f"{int((outside < threshold).sum())}/{len(outside)}",
                }
            )
    print(f"embedder {args.embedder}, chunks {c.size}/{c.overlap}")
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
