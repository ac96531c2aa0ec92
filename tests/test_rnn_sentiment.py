"""Chapter 1 package: models, the n-gram baseline, predictions, and the command line."""

import json

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest
from scipy import sparse

from course.checkpoint import runs_root
from rnn_sentiment import load_best_model
from rnn_sentiment.baseline import NBLogisticRegression, NgramFeatures, nb_log_count_ratio
from rnn_sentiment.config import get_config
from rnn_sentiment.data import load_imdb, make_vectorizer
from rnn_sentiment.model import MaskedGlobalMaxPooling1D, WordPairIds, build_bilstm, build_srn
from rnn_sentiment.scorer import MODELS, ModelNotSavedError, SentimentScorer, best_model
from rnn_sentiment.train import predict_probabilities, predict_sentiment, running_probabilities

CONFIG = get_config("smoke")


def test_masked_max_pooling_ignores_padded_steps():
    values = np.array([[[-3.0, 1.0], [-2.0, 5.0], [0.0, 0.0]]], "float32")
    mask = np.array([[True, True, False]])
    pooled = keras.ops.convert_to_numpy(MaskedGlobalMaxPooling1D()(values, mask=mask))
    np.testing.assert_allclose(pooled, [[-2.0, 5.0]])  # the padded 0 would have won for unit 0


@pytest.mark.parametrize("build", [build_srn, build_bilstm])
def test_models_ignore_padding_and_give_probabilities(build):
    keras.utils.set_random_seed(0)
    model = build(CONFIG)
    words = np.array([[5, 9, 3, 7]], "int32")
    padded = np.concatenate([words, np.zeros((1, 6), "int32")], axis=1)
    short, long = (keras.ops.convert_to_numpy(model(x)) for x in (words, padded))
    assert short.shape == (1, 1) and 0 < short[0, 0] < 1
    np.testing.assert_allclose(short, long, atol=1e-6)  # masking: padding changes nothing


def test_word_pair_ids_by_hand():
    layer = WordPairIds(vocabulary_size=10, buckets=7)
    words = np.array([[3, 5, 2, 0, 0], [4, 0, 0, 0, 0]], "int32")
    # (previous * 10 + word) mod 6 + 1; 0 for the first word (no pair) and at padding.
    expected = [[0, 35 % 6 + 1, 52 % 6 + 1, 0, 0], [0, 0, 0, 0, 0]]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(words)), expected)
    with pytest.raises(ValueError, match="46,341"):
        WordPairIds(vocabulary_size=50_000, buckets=7)
    assert CONFIG.pair_buckets > 0  # so the BiLSTM tests here cover the pair path
    assert "bilstm_embedding" in [layer.name for layer in build_bilstm(CONFIG).layers]


def test_gru_variant_builds():
    assert build_bilstm(CONFIG, cell="gru").name == "bigru"


def test_predictions_keep_the_order_of_the_reviews():
    keras.utils.set_random_seed(0)
    model = build_bilstm(CONFIG)
    rng = np.random.default_rng(0)
    sequences = [rng.integers(2, 100, size=n).astype("int32") for n in (30, 2, 17, 9, 1)]
    batched = predict_probabilities(model, sequences)
    one_by_one = [float(keras.ops.convert_to_numpy(model(s[None]))[0, 0]) for s in sequences]
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_predict_sentiment_and_running_probability_on_a_tiny_model():
    keras.utils.set_random_seed(0)
    model = build_bilstm(CONFIG)
    vectorizer = make_vectorizer(["a fine film", "a dull film"], CONFIG.vocabulary_size)
    probability = predict_sentiment("A fine film<br />!", model, vectorizer, CONFIG)
    assert 0 < probability < 1
    words, running = running_probabilities("a fine, dull film", model, vectorizer, CONFIG)
    assert words == ["a", "fine", "dull", "film"]
    # The last point is the prediction for the whole text.
    whole = predict_sentiment("a fine, dull film", model, vectorizer, CONFIG)
    np.testing.assert_allclose(running[-1], whole, atol=1e-5)
    for bad in ("", "   \n\t", "..."):
        with pytest.raises(ValueError, match="no words"):
            predict_sentiment(bad, model, vectorizer, CONFIG)
    with pytest.raises(TypeError, match="str"):
        predict_sentiment(["a list"], model, vectorizer, CONFIG)


def test_ngram_features_and_nb_ratio_against_hand_counts():
    tokens = [["good", "film"], ["good", "good", "plot"], ["bad", "film"], ["bad", "plot"]]
    features = NgramFeatures(ngram_max=2, min_count=1).fit(tokens)
    matrix = features.transform(tokens).toarray()
    # unigrams: bad film good plot; bigrams: each one seen once.
    assert features.num_features == 4 + 5
    assert matrix.max() == 1.0  # "good good" is binary, not a count of 2
    assert matrix.sum(axis=1).tolist() == [3, 4, 3, 3]
    unseen = features.transform([["good", "unknownword", "film"]])
    assert unseen.sum() == 2  # "good" and "film"; no n-gram through the unknown word
    labels = np.array([1, 1, 0, 0])
    ratio = nb_log_count_ratio(sparse.csr_matrix(matrix), labels, alpha=1.0)
    p, q = 1 + matrix[labels == 1].sum(0), 1 + matrix[labels == 0].sum(0)
    np.testing.assert_allclose(ratio, np.log(p / p.sum()) - np.log(q / q.sum()), rtol=1e-6)
    assert features.vocabularies[0].size == 4
    rare = NgramFeatures(ngram_max=2, min_count=2).fit(tokens)
    assert rare.num_features == 4  # every bigram occurs in one review only


def toy_reviews(count: int, seed: int = 0):
    """Reviews of filler words with one "not good" or "not bad": only bigrams separate them."""
    rng = np.random.default_rng(seed)
    filler = [f"word{k}" for k in range(40)]
    labels = rng.integers(0, 2, size=count)
    texts = []
    for label in labels:
        words = list(rng.choice(filler, size=8))
        words.insert(int(rng.integers(0, 8)), "not bad" if label else "not good")
        texts.append(" ".join(words))
    return texts, labels


def test_baseline_learns_a_separable_toy_problem():
    texts, labels = toy_reviews(300)
    # Unigrams alone cannot separate these ("not" is everywhere); bigrams can.
    model = NBLogisticRegression(ngram_max=2, min_count=2, l2=1e-3).fit(texts[:200], labels[:200])
    probabilities = model.predict_proba(texts[200:])
    assert np.mean((probabilities > 0.5) == labels[200:]) == 1.0
    with pytest.raises(ValueError, match="both positive"):
        NBLogisticRegression().fit(["a", "b"], [1, 1])


def test_baseline_saves_plain_arrays_and_loads_back_the_same_model(tmp_path):
    texts, labels = toy_reviews(120)
    model = NBLogisticRegression(ngram_max=3, min_count=2, l2=1e-3).fit(texts, labels)
    path = model.save(tmp_path / "ngram_model.npz")
    with np.load(path, allow_pickle=False) as saved:  # would raise on any pickled object
        assert all(saved[key].dtype != object for key in saved.files)
    loaded = NBLogisticRegression.load(path)
    assert (loaded.ngram_max, loaded.min_count, loaded.l2) == (3, 2, 1e-3)
    assert loaded.features.word_ids == model.features.word_ids
    new = ["word3 not bad word7", "not good at all", "an unseen review"]
    np.testing.assert_array_equal(loaded.predict_proba(new), model.predict_proba(new))


def test_scorer_refuses_what_is_not_a_list_of_reviews():
    texts, labels = toy_reviews(100)
    ngrams = NBLogisticRegression(ngram_max=2, l2=1e-3).fit(texts, labels)
    scorer = SentimentScorer("nb_logistic_regression", CONFIG, ngram_model=ngrams)
    np.testing.assert_array_equal(scorer.predict_proba(texts[:3]), ngrams.predict_proba(texts[:3]))
    assert scorer.predict_proba([]).shape == (0,)
    with pytest.raises(TypeError, match="list of reviews"):
        scorer.predict_proba("one review as a string")
    with pytest.raises(ValueError, match="review 1: the review has no words"):
        scorer.predict_proba(["fine film", "  ..."])
    with pytest.raises(TypeError, match="review 0"):
        scorer.predict_proba([None])


def test_best_model_is_the_most_accurate_on_validation_and_the_simplest_on_a_tie():
    accuracy = dict.fromkeys(MODELS, 0.8)
    assert best_model(accuracy) == "nb_logistic_regression"
    assert best_model({**accuracy, "bilstm": 0.81}) == "bilstm"
    assert best_model({**accuracy, "bilstm": 0.81, "bilstm_plus_nb": 0.81}) == "bilstm"


def test_load_best_model_without_a_run_says_which_command_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises(ModelNotSavedError, match=r"python -m rnn_sentiment --profile smoke"):
        load_best_model(profile="smoke")
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "best_model.json").write_text("{not json")
    with pytest.raises(ModelNotSavedError, match="unreadable"):
        load_best_model(tmp_path / "garbled", profile="smoke")


@pytest.mark.slow
def test_command_line_trains_writes_and_then_reloads(tmp_path, monkeypatch, capsys):
    from rnn_sentiment.__main__ import main

    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path))
    main(["--profile", "smoke"])
    out = runs_root() / "rnn_sentiment" / "smoke"
    results = json.loads((out / "metrics.json").read_text())
    metrics = results["test_accuracy"]
    assert set(metrics) == set(results["validation_accuracy"]) == set(MODELS)
    assert all(0 <= value <= 1 for value in metrics.values())
    for name in ("histories", "review_lengths", "running_probability_0"):
        assert (out / f"{name}.png").stat().st_size > 1000
    vocabulary = (out / "vocabulary.txt").read_text().splitlines()
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) <= CONFIG.vocabulary_size
    model = keras.models.load_model(out / "bilstm" / "model.keras")
    assert model.output_shape == (None, 1)

    # Every model the command line reports scores new text as it scored the test reviews.
    splits = load_imdb(CONFIG.num_validation, CONFIG.num_train, CONFIG.num_test, profile="smoke")
    with np.load(out / "test_probabilities.npz", allow_pickle=False) as saved:
        reported = {name: saved[name] for name in saved.files}
    best = load_best_model(profile="smoke")
    assert best.name == best_model(results["validation_accuracy"])
    for name in MODELS:
        scorer = best if name == best.name else load_best_model(out, name=name)
        scores = scorer.predict_proba(list(splits.x_test))
        np.testing.assert_allclose(scores, reported[name], rtol=1e-5, atol=1e-6)
        assert np.mean((reported[name] > 0.5) == splits.y_test) == metrics[name]

    capsys.readouterr()
    main(["--profile", "smoke"])  # second run: the networks are loaded, not retrained
    printed = capsys.readouterr().out
    assert printed.count("Loaded the finished run") == 2
    assert json.loads((out / "metrics.json").read_text()) == results

    (out / "bilstm" / "model.keras").unlink()
    with pytest.raises(ModelNotSavedError, match=r"model.keras missing.*--profile smoke"):
        load_best_model(out, name="bilstm_plus_nb")
    assert load_best_model(out, name="nb_logistic_regression").network is None
