"""What makes two questions "the same" for the answer cache.

The exact key is ``hash(namespace, normalised question)``. The namespace holds everything
an answer depends on besides the question (tenant, collection, index version, retrieval
settings, prompt and few-shot versions, model, generation params, conversation so far, the
embedder of the question vectors, the collection's identity); answers are only ever reused
inside one namespace.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from ragline.retrieval.keyword.names import question_names
from ragline.retrieval.types import Message

_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s\.\?\!,;:…。？！，；：、]+$")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|without|none|cannot)\b|n't\b|不|没|无|非")
# Words whose opposites embed almost identically ("enable"/"disable" ≈ 0.89 with MiniLM):
# each class groups near-synonyms, and questions must name the same classes.
_POLARITY_WORDS = {
    "on": "enable enabled enables enabling activate activated activating",
    "off": "disable disabled disables disabling deactivate deactivated deactivating",
    "install": "install installed installs installing",
    "uninstall": "uninstall uninstalled uninstalls uninstalling",
    "add": "add added adds adding create created creates creating insert inserted inserting",
    "remove": "remove removed removes removing delete deleted deletes deleting drop "
    "dropped dropping erase erased erasing",
    "start": "start started starts starting launch launched launching begin",
    "stop": "stop stopped stops stopping halt halted shutdown",
    "up": "increase increased increases increasing raise raising",
    "down": "decrease decreased decreases decreasing reduce reduced reducing lower lowering",
    "min": "min minimum smallest",
    "max": "max maximum largest",
    "upload": "upload uploaded uploading import imported importing",
    "download": "download downloaded downloading export exported exporting",
    "encrypt": "encrypt encrypted encrypting",
    "decrypt": "decrypt decrypted decrypting",
    "lock": "lock locked locking",
    "unlock": "unlock unlocked unlocking",
}
_POLARITY = {word: cls for cls, words in _POLARITY_WORDS.items() for word in words.split()}
_PHRASES = re.compile(r"\b(?:turn|switch)(?:ed|ing|s)? (on|off)\b|\bshut(?:ting|s)? down\b")
_WORD = re.compile(r"[a-z]+")
# Direction: "convert a number to a string" is not "convert a string to a number", nor is
# "A before B" "B before A" — and embeddings barely tell them apart (MiniLM: 0.97). The
# nearest content words around a directional word give an ordered pair ("number>string");
# "after" and "from … to" are written the other way round, so "B after A" equals "A before B".
_DIRECTIONAL = {"to": 1, "into": 1, "onto": 1, "than": 1, "before": 1, "after": -1}
_TOKEN = re.compile(r"[a-z0-9_.+#-]*[a-z0-9_+#]|[\u4e00-\u9fff]")
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "our",
        "your",
        "their",
        "its",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "of",
        "for",
        "in",
        "on",
        "at",
        "by",
        "with",
        "how",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "i",
        "we",
        "you",
        "it",
        "is",
        "are",
        "be",
        "been",
        "was",
        "were",
        "what",
        "which",
        "when",
        "where",
        "why",
        "who",
        "whom",
        "from",
        "and",
        "or",
        "best",
        "properly",
        "correctly",
    ]
)
_CJK_DIRECTIONAL = re.compile(
    r"([\u4e00-\u9fff]{1,4})(转换为|转换成|转为|转成|改为|改成|变成|之前|以前|之后|以后)"
    r"([\u4e00-\u9fff]{1,4})"
)


def _polarity(text: str) -> set[str]:
    found = {m.group(1) or "stop" for m in _PHRASES.finditer(text)}
    return found | {_POLARITY[w] for w in _WORD.findall(text) if w in _POLARITY}


def normalise_question(question: str) -> str:
    """NFKC, casefolded, whitespace collapsed, trailing punctuation trimmed."""
    text = unicodedata.normalize("NFKC", question).casefold()
    text = _SPACE.sub(" ", text).strip()
    return _TRAILING.sub("", text)


_WINDOW = 3
"""Content words on each side of a directional word that take part in its pairs."""


@functools.cache
def _english_stem() -> Callable[[str], str]:
    import Stemmer

    stem: Callable[[str], str] = Stemmer.Stemmer("english").stemWord
    return stem


def _stem(word: str) -> str:
    return _english_stem()(word) if word.isascii() else word


def _directions(normalised: str) -> set[str]:
    """Ordered pairs of content words on either side of a directional word
    ("number>string"), up to :data:`_WINDOW` words each side."""
    words = _TOKEN.findall(normalised)
    found = set()
    for i, word in enumerate(words):
        sign = _DIRECTIONAL.get(word)
        if sign is None:
            continue
        left = _content(reversed(words[:i]))
        right = _content(words[i + 1 :])
        for a in left:
            for b in right:
                x, y = (_stem(a), _stem(b)) if sign > 0 else (_stem(b), _stem(a))
                if x != y:
                    found.add(f"{x}>{y}")
    for match in _CJK_DIRECTIONAL.finditer(normalised):
        head, marker, tail = match.group(1).lstrip("把将"), match.group(2), match.group(3)
        for a in _bigrams(head):
            for b in _bigrams(tail):
                pair = f"{b}>{a}" if marker in ("之后", "以后") else f"{a}>{b}"
                if a != b:
                    found.add(pair)
    return found


def _bigrams(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(max(1, len(text) - 1))]


def _content(words: Iterable[str]) -> list[str]:
    out = []
    for w in words:
        if w in _DIRECTIONAL:
            break
        if w not in _FILLER:
            out.append(w)
            if len(out) == _WINDOW:
                break
    return out


def compatible(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two questions' guard tokens allow one's answer for the other: the same
    numbers, negation and polarity, and no direction of one reversed in the other (a
    paraphrase may drop or add a direction; it may not turn one around)."""
    exact_a = [t for t in a if not t.startswith("→")]
    exact_b = [t for t in b if not t.startswith("→")]
    if exact_a != exact_b:
        return False
    mine = {t[1:] for t in a if t.startswith("→")}
    theirs = {t[1:] for t in b if t.startswith("→")}
    return not any(">".join(reversed(d.split(">", 1))) in theirs for d in mine)


def guard_tokens(normalised: str) -> tuple[str, ...]:
    """What two questions must share exactly before a paraphrase match counts: numbers and
    versions ("3.11", "12"), negation, the polarity of a few opposite verbs (enable vs
    disable, add vs remove…) and direction ("number to string" vs "string to number", "A
    before B" vs "B before A"). Embeddings barely separate "Python 3.11 on Debian 12" from
    "Python 3.12 on Debian 11" (cosine 0.99 with MiniLM); this does."""
    numbers = sorted(n.replace(",", ".") for n in _NUMBER.findall(normalised))
    negated = ["¬"] if _NEGATION.search(normalised) else []
    polarity = sorted(_polarity(normalised))
    directions = sorted(_directions(normalised))
    return (*numbers, *negated, *(f"~{p}" for p in polarity), *(f"→{d}" for d in directions))


def question_guard(question: str) -> tuple[str, ...]:
    """The guard tokens of ``question`` (:func:`guard_tokens` of its normalised form) and the
    names it gives ("@flask"; :func:`ragline.retrieval.keyword.names.question_names`, read
    from the question as written, capitals included): e5-small puts "How do I define a Flask
    route …?" at cosine 0.96 of the same question about Django, and "zram" of "zswap" at
    0.98, above the cache's threshold. Names are compared stemmed ("docstrings" is
    "docstring")."""
    names = {
        "@" + ".".join(_stem(part) for part in re.findall(r"[a-z0-9]+", name.lower()))
        for name in question_names(question)
    }
    return (*guard_tokens(normalise_question(question)), *sorted(names - {"@"}))


def digest(value: Any, size: int = 32) -> str:
    """A stable hex digest of JSON-able data (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def _plain(value: Any) -> Any:
    """Settings models, params and mappings as plain JSON-able data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class CacheNamespace:
    """Everything an answer depends on besides the question; ``digest`` is its stable hash."""

    tenant: str
    collection: str
    index_version: int
    retrieval: str
    """Digest of the retrieval settings (mode, k, fusion, filters…)."""
    prompt_version: str
    examples_version: str
    model_id: str
    generation: str
    """Digest of the generation params."""
    conversation: str = ""
    """Digest of the earlier turns; empty for a first question."""
    embedder_id: str = ""
    """Model of the question vectors: vectors of different models are never compared."""
    sampled: bool = False
    """Answers made with temperature > 0 (cached only when cache.cache_sampled is on)."""
    collection_uid: str = ""
    """The collection's identity (given at creation): a collection deleted and re-created
    under the same name starts its index version at 1 again, but never shares answers."""

    @classmethod
    def build(
        cls,
        *,
        tenant: str,
        collection: str,
        index_version: int,
        retrieval: Any,
        prompt_version: str,
        examples_version: str,
        model_id: str,
        generation: Any,
        history: Sequence[Message] = (),
        embedder_id: str = "",
        collection_uid: str = "",
    ) -> CacheNamespace:
        """From the objects themselves: ``retrieval`` and ``generation`` may be settings
        models, ``GenerationParams`` or mappings; ``history`` the conversation so far."""
        gen = _plain(generation)
        temperature = gen.get("temperature", 0) if isinstance(gen, Mapping) else 0
        return cls(
            tenant=tenant,
            collection=collection,
            index_version=int(index_version),
            retrieval=digest(_plain(retrieval)),
            prompt_version=prompt_version,
            examples_version=examples_version,
            model_id=model_id,
            generation=digest(gen),
            conversation=digest([m.to_dict() for m in history]) if history else "",
            embedder_id=embedder_id,
            sampled=bool(temperature and float(temperature) > 0),
            collection_uid=collection_uid,
        )

    @cached_property
    def digest(self) -> str:
        fields = asdict(self)
        if not self.collection_uid:
            del fields["collection_uid"]  # namespaces built without one keep their digests
        return digest(fields)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "digest": self.digest}


def exact_key(question: str, namespace: CacheNamespace) -> str:
    """The exact-layer key of ``question`` in ``namespace``."""
    text = f"{namespace.digest}\x00{normalise_question(question)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]
