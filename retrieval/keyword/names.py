"""Names a question gives that its collection never mentions.

A question about Flask asked of the Python FAQ, or about Ceph asked of the Debian reference, is
about something the documents do not cover: whatever the sources retrieved for it say, they do
not answer it, and a model given them answers from its own knowledge. Such a question is
answered "not found", naming what the documents lack. A *name* is a word written as one:

- with a capital inside it or after the question's first word (``PyTorch``, ``GPU``,
  ``Flask``), a digit (``Jinja2``, ``base64``) or joining punctuation (``pyproject.toml``,
  ``except*``), or between backticks or quotes;
- a Latin-script word in a question written in another script (``怎样配置 Redis 的 AOF
  持久化？``);
- a lower-case word of an English question that is not an English word (``zram``,
  ``kubeadm``, ``nginx``: neither common in wordfreq's English list nor in an English
  dictionary, GCIDE or Webster's from ``english-words``; ordinary words such as "salted" or
  "chomp" never count, whether the documents use them or not). Frequency alone cannot tell:
  web text writes ``nginx`` and ``matplotlib`` as often as ``netmask``, and the dictionaries
  lack "laptops" and "username", which are common. Closed compounds count as names
  ("netmask" as much as "dataclass" and "setuptools": splitting them into two dictionary
  words lost two of the tune half's unanswerable questions).

A name is mentioned when every keyword token of it is in the collection's BM25 vocabulary
(the same tokeniser as the documents', so ``hostnames`` matches ``hostname``), or when it is
one word that a chunk writes as two (``netmask`` as "net mask";
:meth:`~ragline.retrieval.keyword.KeywordIndex.mentions`). Tuned on the
tune half of the gold sets (docs/benchmarks.md, "Answer quality").
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet

from ragline.retrieval.keyword.tokenize import is_latin

log = logging.getLogger(__name__)

_QUOTED = re.compile(r"`([!-~]{2,60})`|[\"“]([!-~]{2,60})[\"”]")  # one printable ASCII token
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+#*'’/-]*")
_POSSESSIVE = re.compile(r"['’]s$")
# What may come before a sentence's first word, whose capital says nothing.
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s*)\s*$")
_JOINING = frozenset("._*+#/")
# Words an English question is written with; without one, a Latin-script question may be in
# another language, whose words the English word list does not know.
_ENGLISH_WORDS = (
    "the a an to of in on for with from by is are was be do does did how what which why where "
    "when who can could should would will i my me we our you your it this that"
)
_ENGLISH = frozenset(_ENGLISH_WORDS.split())


@functools.lru_cache(maxsize=1024)
def question_names(question: str) -> tuple[str, ...]:
    """The names ``question`` gives, in order, without repeats (see the module docstring).
    Kept per question: an uncached ask reads them for the cache key (twice: look-up and
    store) and for the "not found" check."""
    script = _other_script(question)
    english = not script and any(w.lower() in _ENGLISH for w in _WORD.findall(question))
    found: list[str] = [a or b for a, b in _QUOTED.findall(question)]
    text = _QUOTED.sub(" ", question)
    for match in _WORD.finditer(text):
        word = _POSSESSIVE.sub("", match.group().rstrip(".-/'’"))
        if len(word) < 2:
            continue
        shaped = (
            any(c.isdigit() for c in word)
            or any(c in _JOINING for c in word[1:])
            or any(c.isupper() for c in word[1:])
            or (word[0].isupper() and not _SENTENCE_START.search(text, 0, match.start()))
        )
        if script or shaped or (english and word.islower() and not english_word(word)):
            found.append(word)
    return tuple(dict.fromkeys(found))


def unknown_names(
    question: str, mentions: Callable[[str], bool], collection_language: str
) -> list[str]:
    """The names of ``question`` that the collection never mentions (``mentions`` answers for
    one name). A question in Latin script only is checked against English collections only:
    a Chinese collection may give its words in translation."""
    if not _other_script(question) and collection_language != "en":
        return []
    return [name for name in question_names(question) if not mentions(name)]


def _other_script(text: str) -> bool:
    """Whether ``text`` has letters of a script other than Latin (Chinese, Cyrillic, …): its
    Latin-script words are then names."""
    return any(c.isalpha() and not is_latin(c) for c in text)


COMMON_ZIPF = 3.0
"""A word at least this frequent in wordfreq's English list (Zipf scale: 3 = once per million
words; "username" 3.8, "ssh" 3.1, "nginx" 2.2) is an English word, in a dictionary or not.
The tune half of the gold sets could not tell 2.5 from 4.0 (every one flags the same
questions); 3.5 made "one-liners" in a python-faq retrieval question a name, 3.0 none beyond
what the old rule flagged (docs/benchmarks.md, "Answer quality")."""
# Endings stripped to find a word's plain form ("files" -> "file", "salted" -> "salt",
# "usernames" -> "username").
_ENDINGS = ("s", "es", "ed", "d", "ing")


def english_word(word: str) -> bool:
    """Whether ``word`` is an English word: as written or without an inflection ending,
    common in wordfreq's English list or in an English dictionary. True (nothing is judged a
    name for it) when wordfreq is not installed; without the dictionaries, any word wordfreq
    knows counts."""
    frequency, dictionary = _frequency(), _dictionary()
    if frequency is None:
        return True
    lower = word.lower()
    forms = [lower] + [lower[: -len(end)] for end in _ENDINGS if lower.endswith(end)]
    if dictionary is None:
        return frequency(lower, "en") > 0
    return any(form in dictionary or frequency(form, "en") >= COMMON_ZIPF for form in forms)


@functools.cache
def _frequency() -> Callable[..., float] | None:
    """wordfreq's ``zipf_frequency``, imported on first use (its English list: ~0.5 s and
    ~40 MB, once per process)."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:
        log.warning("wordfreq is not installed: lower-case names are not checked")
        return None
    return zipf_frequency


@functools.cache
def _dictionary() -> AbstractSet[str] | None:
    """Lower-cased GCIDE and Webster's word lists (``english-words``; ~0.1 s and ~25 MB,
    once per process)."""
    try:
        from english_words import get_english_words_set
    except ImportError:
        log.warning("english-words is not installed: any word wordfreq knows is English")
        return None
    words: AbstractSet[str] = get_english_words_set(["gcide", "web2"], lower=True)
    return words
