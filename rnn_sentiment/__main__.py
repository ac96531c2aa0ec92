"""Train the chapter's models and write models, histories, metrics and figures.

    python -m rnn_sentiment --profile cpu

Everything goes to training_checkpoints/rnn_sentiment/<profile>/; a rerun resumes or reloads.
``rnn_sentiment.load_best_model()`` then loads the best model from there to score new reviews.
"""

from __future__ import annotations

import json
import time

import numpy as np

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.atomic import atomic_path, atomic_write_text
from course.env import environment_report, set_seed
from course.figures import save_figure
from course.profiles import profile_from_command_line
from rnn_sentiment import plots
from rnn_sentiment.baseline import NBLogisticRegression
from rnn_sentiment.blend import blend, blend_weight
from rnn_sentiment.config import get_config
from rnn_sentiment.data import load_imdb

# Two short real test reviews, one each way, for the running-probability figure.
EXAMPLE_REVIEWS = 2


def short_examples(texts, labels, count=EXAMPLE_REVIEWS, max_words=60):
    """Indices of the first short reviews of each label (deterministic)."""
    short = [i for i, text in enumerate(texts) if len(text.split()) <= max_words]
    picked = []
    for label in (1, 0):
        picked += [i for i in short if labels[i] == label][: max(1, count // 2)]
    return picked


def main(argv=None) -> None:
    config = get_config(profile_from_command_line(__doc__, argv))
    # Imported only once the command line is read: they load TensorFlow (seconds), and a
    # mistyped --profile or --help should answer at once.
    from rnn_sentiment.model import build_bilstm, build_srn
    from rnn_sentiment.scorer import best_model, save_best_model
    from rnn_sentiment.train import (
        accuracy,
        predict_probabilities,
        run_dir,
        running_probabilities,
        save_vocabulary,
        tokenize_splits,
        train,
    )
    print(environment_report(config.profile), flush=True)
    out = run_dir(config)
    splits = load_imdb(
        config.num_validation, config.num_train, config.num_test, profile=config.profile
    )
    tokens = tokenize_splits(splits, config)
    save_vocabulary(tokens.vectorizer, out / "vocabulary.txt")

    started = time.perf_counter()
    baseline = NBLogisticRegression(config.ngram_max, config.ngram_min_count, config.baseline_l2)
    baseline_test = baseline.fit(splits.x_train, splits.y_train).predict_proba(splits.x_test)
    baseline_val = baseline.predict_proba(splits.x_val)
    seconds = {"nb_logistic_regression": time.perf_counter() - started}
    probabilities = {"nb_logistic_regression": baseline_test}

    validation = {"nb_logistic_regression": baseline_val}
    histories, models = {}, {}
    for name, build, num_epochs in (
        ("srn", build_srn, config.srn_epochs),
        ("bilstm", build_bilstm, config.num_epochs),
    ):
        set_seed(config.seed)
        model = build(config)
        started = time.perf_counter()
        histories[name] = train(model, tokens, splits, config, num_epochs)
        seconds[name] = time.perf_counter() - started
        probabilities[name] = predict_probabilities(model, tokens.test)
        validation[name] = predict_probabilities(model, tokens.val)
        models[name] = model
    # The recurrent model and the n-gram model make different mistakes: blend their log-odds,
    # with the weight chosen on validation.
    weight = blend_weight(baseline_val, validation["bilstm"], splits.y_val)
    probabilities["bilstm_plus_nb"] = blend(baseline_test, probabilities["bilstm"], weight)
    validation["bilstm_plus_nb"] = blend(baseline_val, validation["bilstm"], weight)
    metrics = {name: accuracy(p, splits.y_test) for name, p in probabilities.items()}
    validation_metrics = {name: accuracy(p, splits.y_val) for name, p in validation.items()}
    for name, value in metrics.items():
        print(f"{name}: validation accuracy {validation_metrics[name]:.4f}, "
              f"test accuracy {value:.4f}", flush=True)

    save_figure(plots.plot_histories(histories), out / "histories.png")
    lengths = np.array([len(ids) for ids in tokens.train])
    save_figure(plots.plot_review_lengths(lengths, config.max_tokens), out / "review_lengths.png")
    for k, index in enumerate(short_examples(splits.x_test, splits.y_test)):
        words, running = running_probabilities(
            splits.x_test[index], models["bilstm"], tokens.vectorizer, config
        )
        truth = "positive" if splits.y_test[index] else "negative"
        figure = plots.plot_running_probability(words, running, f"a {truth} test review")
        save_figure(figure, out / f"running_probability_{k}.png")
    # Seconds are printed, not saved: a reloaded run would record its loading time instead.
    print("seconds:", {name: round(value, 1) for name, value in seconds.items()}, flush=True)
    with atomic_path(out / "test_probabilities.npz") as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **probabilities)
    # The blend weight was chosen on the same validation reviews, so the blend's validation
    # accuracy flatters it a little; the test split stays untouched by every choice.
    save_best_model(out, config, baseline, weight, validation_metrics)
    results = {"validation_accuracy": validation_metrics, "test_accuracy": metrics}
    atomic_write_text(out / "metrics.json", json.dumps(results, indent=1))
    print(f"best by validation: {best_model(validation_metrics)}")
    print(f"wrote models, histories, metrics and figures to {out}")


if __name__ == "__main__":
    main()
