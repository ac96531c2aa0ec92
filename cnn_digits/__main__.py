"""Train the chapter's three models and write models, histories, metrics and figures.

    python -m cnn_digits --profile cpu

Everything goes to training_checkpoints/cnn_digits/<profile>/; a rerun resumes or reloads.
"""

from __future__ import annotations

import json

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from cnn_digits import plots
from cnn_digits.config import get_config
from cnn_digits.data import load_mnist
from cnn_digits.handwriting import find_digit_images, label_from_name, load_digits
from course.atomic import atomic_write_text
from course.env import environment_report, set_seed
from course.fetch import PROJECT_ROOT
from course.figures import save_figure
from course.profiles import profile_from_command_line

SAMPLE_DIGITS = PROJECT_ROOT / "notebooks" / "my_digits"


def main(argv=None) -> None:
    config = get_config(profile_from_command_line(__doc__, argv))
    # Imported only once the command line is read: they load TensorFlow (seconds), and a
    # mistyped --profile or --help should answer at once.
    from cnn_digits.model import build_cnn, build_mlp
    from cnn_digits.train import predict_probabilities, run_dir, train
    print(environment_report(config.profile), flush=True)
    out = run_dir(config)
    splits = load_mnist(
        config.num_validation, config.num_train, config.num_test, profile=config.profile
    )

    builders = {
        "mlp": (lambda: build_mlp(), config.mlp_epochs),
        "cnn": (lambda: build_cnn(config), config.cnn_epochs),
        "cnn_augmented": (lambda: build_cnn(config, augment=True), config.augmented_epochs),
    }
    histories, metrics, models = {}, {}, {}
    for name, (build, num_epochs) in builders.items():
        set_seed(config.seed)
        model = build()
        histories[name] = train(model, splits, config, num_epochs)
        probabilities = predict_probabilities(model, splits.x_test)
        metrics[name] = float((probabilities.argmax(1) == splits.y_test).mean())
        print(f"{name}: test accuracy {metrics[name]:.4f}", flush=True)
        models[name] = (model, probabilities)

    best_model, best_probabilities = models["cnn_augmented"]
    save_figure(plots.plot_histories(histories), out / "histories.png")
    predictions = best_probabilities.argmax(1)
    save_figure(plots.plot_confusion_matrix(splits.y_test, predictions), out / "confusion.png")
    save_figure(
        plots.plot_misclassified(splits.x_test, splits.y_test, best_probabilities),
        out / "misclassified.png",
    )
    paths = find_digit_images(SAMPLE_DIGITS)
    digits, originals = load_digits(paths)
    labels = [label_from_name(path) for path in paths]
    own = predict_probabilities(best_model, digits)
    save_figure(plots.plot_own_digits(originals, digits, own, labels), out / "own_digits.png")
    atomic_write_text(out / "metrics.json", json.dumps({"test_accuracy": metrics}, indent=1))
    print(f"wrote models, histories, metrics and figures to {out}")


if __name__ == "__main__":
    main()
