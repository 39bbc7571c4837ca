"""Keyword tokenisation: English, Chinese and mixed text."""

from __future__ import annotations

from ragline.retrieval.keyword.tokenize import KeywordConfig, Tokenizer, bigrams


def tok(text: str, **config: object) -> list[str]:
    return Tokenizer(KeywordConfig(**config)).tokenize(text)  # type: ignore[arg-type]


def test_english_is_lowercased_stemmed_and_loses_stop_words() -> None:
    assert tok("The Running FILES of the configuration") == ["run", "file", "configur"]
    assert tok("It is running", stemmer=None) == ["running"]
    assert tok("the cat", stopwords="none") == ["the", "cat"]


def test_extended_stop_words_drop_question_words() -> None:
    assert tok("How do I install packages?", stopwords="extended") == ["instal", "packag"]
    assert "how" in tok("How do I install packages?", stopwords="light")


def test_clitics_full_width_and_digits() -> None:
    assert tok("Python’s parser doesn't", stopwords="light") == ["python", "parser", "doesn"]
    assert tok("ＡＢＣ ２０２４") == ["abc", "2024"]
    assert tok("x86_64 v2.7") == ["x86", "64", "v2", "7"]


def test_chinese_is_segmented_with_jieba_search_mode() -> None:
    tokens = tok("中华人民共和国的首都")
    assert "中华人民共和国" in tokens and "共和国" in tokens and "首都" in tokens
    assert "的" not in tokens  # a function word


def test_chinese_single_character_runs_fall_back_to_bigrams() -> None:
    # jieba cuts this rare sequence into single characters; bigrams keep it searchable.
    single = tok("彧鋆龢")
    assert single == ["彧鋆", "鋆龢"]


def test_bigram_mode_and_helper() -> None:
    assert tok("配置提示符", cjk="bigram") == ["配置", "置提", "提示", "示符"]
    assert bigrams("一") == ["一"] and bigrams("") == []


def test_mixed_text_keeps_both_scripts() -> None:
    tokens = tok("如何在Debian中配置shell提示符？Running apt-get")
    assert {"debian", "shell", "配置", "提示符", "run", "apt", "get"} <= set(tokens)


def test_whitespace_scheme_only_splits_on_spaces() -> None:
    assert tok("配置 Shell 提示符", scheme="whitespace") == ["配置", "shell", "提示符"]


def test_config_round_trips_through_json() -> None:
    config = KeywordConfig(language="zh", cjk="bigram", stemmer=None, k1=1.5)
    assert KeywordConfig.from_json(config.to_json()) == config


SPANISH = (
    "Todos los seres humanos nacen libres e iguales en dignidad y derechos y deben comportarse"
)


def test_non_english_chunks_keep_their_words() -> None:
    assert tok(SPANISH) == SPANISH.lower().split()  # no English stemming, no stop words
    french = "Le café de la gare était fermé à cause de la grève des cheminots"
    assert tok(french) == french.lower().split()
    assert tok(SPANISH, multilingual=False)[:3] == ["todo", "los", "sere"]  # an older index


def test_english_and_short_texts_follow_english_rules() -> None:
    assert tok("How do I install packages?") == ["instal", "packag"]  # "do" is no Portuguese
    assert tok("Los Angeles") == ["los", "angel"]
    assert tok("The cats of the village are sleeping in the sun all day") == [
        "cat", "villag", "sleep", "sun", "day",
    ]  # fmt: skip


def test_queries_match_chunks_tokenised_either_way() -> None:
    tokenizer = Tokenizer(KeywordConfig())
    query = tokenizer.tokenize_query("seres humanos nacen libres")
    assert set(tokenizer.tokenize(SPANISH)) >= {"seres", "humanos", "nacen", "libres"}
    assert {"seres", "humanos", "nacen", "libres"} <= set(query)
    assert {"sere", "humano", "libr"} <= set(query)  # the English stems, for English chunks
    assert tokenizer.tokenize_query("how do I install packages") == [
        "instal", "packag", "install", "packages",
    ]  # fmt: skip


def test_config_from_before_multilingual_keeps_english_rules() -> None:
    old = '{"b": 0.75, "cjk": "jieba", "k1": 1.2, "language": "en", "method": "lucene", '
    old += '"scheme": "standard", "stemmer": "english", "stopwords": "extended"}'
    assert KeywordConfig.from_json(old).multilingual is False
    assert KeywordConfig().multilingual is True
