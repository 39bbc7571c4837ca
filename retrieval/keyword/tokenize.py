"""Keyword tokenisation for BM25: English, Chinese, other languages and mixed text in one pass.

Text is NFKC-normalised and lower-cased, then split into runs of CJK characters and runs of
other letters/digits. Latin-script words of English text lose stop words and are stemmed
(Snowball, via PyStemmer); CJK runs are segmented with jieba (search mode, which also emits
the parts of long words), and stretches jieba can only cut into single characters (names, rare
terms) fall back to character bigrams. Without jieba every CJK run becomes bigrams.

Per chunk language (``multilingual``, every index made since it exists): a chunk whose function
words are Spanish, French, German, Portuguese, Italian or Dutch rather than English keeps its
words as written — no English stemming, no English stop words. A query is tokenised both ways
(English stems, and the plain words), so it finds either kind of chunk without anyone having to
guess the language of a three-word query.

The configuration is a value stored with each keyword index, so documents and queries are
always tokenised the same way. jieba and PyStemmer load on first use only.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ragline.retrieval.errors import BackendUnavailable, ConfigError

CJKMode = Literal["jieba", "bigram"]
Stopwords = Literal["none", "light", "extended"]
Scheme = Literal["standard", "whitespace"]

_CJK_RANGES = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # hangul syllables
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0002fa1f"  # extensions B and later
)
_TOKEN = re.compile(rf"([{_CJK_RANGES}]+)|([^\W_{_CJK_RANGES}]+)")
_CLITIC = re.compile(r"['’](?:s|t|re|ve|ll|d|m)\b")  # "file's", "don't": the stem stays
_MAX_WORD = 40  # longer "words" are hashes, base64 or URLs run together: no use as terms

# Frequent function words that tell a Latin-script language apart ("a" is in too many).
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the of and to in is that for it with as was on be by this are from or at an not "
        "have which were been has their",
        "es": "el la los las de del que y en un una por con para es se su al lo como más pero "
        "sus le ya este entre cuando muy sin sobre también",
        "fr": "le la les des du de et est une un dans que qui pour pas sur au avec ce il elle "
        "sont aux par ne plus mais ou nous vous",
        "de": "der die das und ist nicht ein eine mit den dem zu von auf für sich auch im des "
        "sie es wird werden auch oder bei nach",
        "pt": "o os as da do das dos que e em um uma não para com é por no na se mais ao pelo "
        "foi são",
        "it": "il lo gli la le di che e è un una per con non del della sono da nel alla si "
        "anche come più",
        "nl": "de het een en van is dat niet op te zijn met voor die er aan ook als bij door "
        "werd wordt",
    }.items()
}
# A text needs this many words, and another language this many (and a tenth of the words)
# of its function words, before it is judged not English.
_MIN_WORDS_FOR_LANGUAGE = 8
_MIN_FUNCTION_WORDS = 3
_MIN_FUNCTION_SHARE = 0.1

# Function words that carry no topic in Chinese text.
_ZH_LIGHT = frozenset(
    "的了是在和与及或也都就而这那之其被把对从向为以于上中下个着过吗呢吧啊呀么我你他她它能会要将并但不有该此等即则还又很更最"
) | frozenset(
    (
        "什么",
        "怎么",
        "如何",
        "哪些",
        "哪个",
        "一个",
        "我们",
        "你们",
        "他们",
        "可以",
        "如果",
        "因为",
        "所以",
        "没有",
    )
)


@dataclass(frozen=True)
class KeywordConfig:
    """How one keyword index tokenises and scores; stored with the index."""

    language: str = "en"
    scheme: Scheme = "standard"
    cjk: CJKMode = "jieba"
    stemmer: str | None = "english"
    stopwords: Stopwords = "extended"
    k1: float = 1.2
    b: float = 0.75
    method: str = "lucene"
    multilingual: bool = True  # per chunk language (see the module docstring)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> KeywordConfig:
        data: dict[str, Any] = json.loads(text)
        data.setdefault("multilingual", False)  # an index made before: English rules for all
        return cls(**data)


class Tokenizer:
    """``tokenize(text) -> list[str]`` following a :class:`KeywordConfig`."""

    def __init__(self, config: KeywordConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._stem: Callable[[str], str] | None = None
        self._cut: Callable[[str], Iterable[str]] | None = None
        self._stop: frozenset[str] | None = None

    # -- public ---------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """Tokens of a document (a chunk): English rules unless it reads as another language."""
        if self.config.scheme == "whitespace":
            return text.lower().split()
        return list(self._standard(text, None))

    def tokenize_query(self, text: str) -> list[str]:
        """Tokens of a query: the English tokens, then (multilingual) the plain words that
        differ from them, so chunks tokenised either way match."""
        if self.config.scheme == "whitespace" or not self.config.multilingual:
            return self.tokenize(text)
        english = list(dict.fromkeys(self._standard(text, True)))
        stop = self._stopwords()
        seen = set(english)
        plain = [t for t in self._standard(text, False) if t not in stop and t not in seen]
        return english + list(dict.fromkeys(plain))

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]

    # -- the standard scheme --------------------------------------------------------------
    def _standard(self, text: str, english: bool | None) -> Iterator[str]:
        """``english``: True = English rules, False = plain words, None = by the text."""
        stop = self._stopwords()
        normal = _CLITIC.sub("", unicodedata.normalize("NFKC", text).lower())
        matches = list(_TOKEN.finditer(normal))
        if english is None:
            english = not self.config.multilingual or reads_english(
                m.group(2) for m in matches if m.group(2) is not None
            )
        stem = self._stemmer() if english else None
        for match in matches:
            cjk, word = match.group(1), match.group(2)
            if word is not None:
                if len(word) > _MAX_WORD or (english and word in stop):
                    continue
                yield stem(word) if stem is not None and word.isascii() and word.isalpha() else word
            else:
                for token in self._segment(cjk):
                    if token not in stop:
                        yield token

    def _segment(self, run: str) -> Iterator[str]:
        if len(run) == 1:
            yield run
            return
        cut = self._segmenter()
        if cut is None:
            yield from bigrams(run)
            return
        singles: list[str] = []
        for piece in cut(run):
            if len(piece) == 1:
                singles.append(piece)
                continue
            if singles:
                yield from bigrams("".join(singles))
                singles = []
            yield piece
        if singles:
            yield from bigrams("".join(singles))

    # -- lazily loaded parts --------------------------------------------------------------
    def _stopwords(self) -> frozenset[str]:
        if self._stop is None:
            self._stop = stopwords(self.config.stopwords)
        return self._stop

    def _stemmer(self) -> Callable[[str], str] | None:
        name = self.config.stemmer
        if name is None:
            return None
        if self._stem is None:
            with self._lock:
                if self._stem is None:
                    self._stem = _load_stemmer(name)
        return self._stem

    def _segmenter(self) -> Callable[[str], Iterable[str]] | None:
        if self.config.cjk != "jieba":
            return None
        if self._cut is None:
            with self._lock:
                if self._cut is None:
                    self._cut = _load_jieba()
        return self._cut


def reads_english(words: Iterable[str]) -> bool:
    """False when ``words`` hold more function words of one other Latin-script language than of
    English, and enough of them (three, and a tenth of the words); short texts count as
    English."""
    counts = dict.fromkeys(_FUNCTION_WORDS, 0)
    total = 0
    for word in words:
        if not word.isalpha():
            continue
        total += 1
        for lang, function_words in _FUNCTION_WORDS.items():
            if word in function_words:
                counts[lang] += 1
    if total < _MIN_WORDS_FOR_LANGUAGE:
        return True
    english = counts.pop("en")
    other = max(counts.values())
    enough = max(_MIN_FUNCTION_WORDS, _MIN_FUNCTION_SHARE * total)
    return not (other > english and other >= enough)


def is_latin(char: str) -> bool:
    """Whether ``char`` is an ASCII or Latin-script character."""
    return char.isascii() or unicodedata.name(char, "").startswith("LATIN")


def bigrams(run: str) -> list[str]:
    """Overlapping character pairs; a single character stays itself."""
    if len(run) < 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def stopwords(kind: Stopwords) -> frozenset[str]:
    """``light``: Lucene's 33 English stop words; ``extended``: a 179-word English list (with
    question words: how, what, which, ...). Both add a short list of Chinese function words;
    bm25s' long Chinese list is not used: it holds content words and cost recall in tests."""
    if kind == "none":
        return frozenset()
    from bm25s import stopwords as bm25s_stopwords

    english = bm25s_stopwords.STOPWORDS_EN if kind == "light" else bm25s_stopwords.STOPWORDS_EN_PLUS
    return frozenset(english) | _ZH_LIGHT


def _load_stemmer(name: str) -> Callable[[str], str]:
    try:
        import Stemmer
    except ImportError as exc:
        raise BackendUnavailable("stemming needs PyStemmer: pip install PyStemmer") from exc
    try:
        stemmer = Stemmer.Stemmer(name)
    except KeyError as exc:
        raise ConfigError(f"unknown stemmer {name!r}") from exc
    stem: Callable[[str], str] = stemmer.stemWord
    return stem


_JIEBA_LOCK = threading.Lock()


def _load_jieba() -> Callable[[str], Iterable[str]] | None:
    """jieba's search-mode cutter, or None (bigram fallback) when jieba is not installed."""
    try:
        import jieba
    except ImportError:
        logging.getLogger(__name__).warning("jieba is not installed: CJK text uses bigrams")
        return None
    with _JIEBA_LOCK:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    cut: Callable[[str], Iterable[str]] = jieba.cut_for_search
    return cut
