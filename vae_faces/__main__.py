"""Train the standard CNN and the DB-VAE on the skewed faces; write models, metrics, figures.

    python -m vae_faces --profile cpu

Everything goes to training_checkpoints/vae_faces/<profile>/; a rerun resumes or reloads. The
figures are the notebook's that come from the data and the two trained models, drawn by the same
functions; the notebook's toy demonstrations and its benchmark figures are not among them.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.atomic import atomic_write_text
from course.env import environment_report, set_seed
from course.figures import save_figure
from course.profiles import profile_from_command_line
from vae_faces import plots
from vae_faces.config import RACES, get_config
from vae_faces.data import face_tones, load_mit_test_faces, load_splits
from vae_faces.metrics import MATCHED_FPR, bootstrap_intervals, summarize, threshold_at_fpr
from vae_faces.resampling import sampling_weights
from vae_faces.schematic import draw_dbvae_schematic
from vae_faces.skin_tone import TONE_GROUPS

LEGEND = {"cnn": "CNN", "dbvae": "DB-VAE"}  # the notebook's names for the two models


def evaluate(probabilities, calibration_probabilities, splits) -> dict:
    """Recall per skin-tone group and per race label, at 0.5 and at the matched FPR."""
    threshold = threshold_at_fpr(calibration_probabilities, MATCHED_FPR)
    faces = splits.y_eval == 1
    report = {"matched_threshold": threshold}
    for view, groups, names in (("tone", splits.tone_eval, TONE_GROUPS),
                                ("race", splits.race_eval, RACES)):
        for reading, t in (("threshold_0.5", 0.5), ("matched_fpr", threshold)):
            summary = summarize(probabilities, splits.y_eval, groups, t, names)
            summary["bootstrap_95"] = bootstrap_intervals(
                probabilities[faces], groups[faces], t, group_names=names)
            report[f"{view}_{reading}"] = summary
    return report


def recall_figure(metrics: dict, view: str, groups, title: str):
    """Both readings of both models, as ``plots.plot_recall_by_group`` takes them."""
    readings = {}
    for reading, label in plots.reading_titles(MATCHED_FPR).items():
        readings[label] = {
            LEGEND.get(name, name): {
                "recall": {g: [r] for g, r in m[f"{view}_{reading}"]["recall_by_group"].items()},
                "intervals": m[f"{view}_{reading}"]["bootstrap_95"],
            }
            for name, m in metrics.items()
        }
    return plots.plot_recall_by_group(readings, groups, title)


def main(argv=None) -> dict:
    config = get_config(profile_from_command_line(__doc__, argv))
    # Imported only once the command line is read: they load TensorFlow (seconds), and a
    # mistyped --profile or --help should answer at once.
    from vae_faces.latent import sample_prior, tone_walk
    from vae_faces.model import build_cnn, build_dbvae
    from vae_faces.train import (
        face_probabilities,
        interpolate,
        latent_means,
        reconstruct,
        run_dir,
        train,
    )
    print(environment_report(config.profile), flush=True)
    out = run_dir(config)
    splits = load_splits(config)

    models, histories, metrics = {}, {}, {}
    for name, build in (("cnn", build_cnn), ("dbvae", build_dbvae)):
        set_seed(config.seed)
        model = build(config)
        histories[name] = train(model, splits, config)
        metrics[name] = evaluate(face_probabilities(model, splits.x_eval),
                                 face_probabilities(model, splits.x_calibration), splits)
        tone = metrics[name]["tone_matched_fpr"]
        print(f"{name} at a matched {MATCHED_FPR:.0%} FPR: worst skin-tone group recall "
              f"{tone['worst_group_recall']:.3f}, gap {tone['gap']:.3f}", flush=True)
        models[name] = model

    train_faces = splits.y_train == 1
    eval_faces = splits.y_eval == 1
    train_counts = {g: int(np.sum(splits.tone_train[train_faces] == g)) for g in TONE_GROUPS}
    eval_counts = {g: int(np.sum(splits.tone_eval[eval_faces] == g)) for g in TONE_GROUPS}
    all_faces = face_tones(config)

    def write(name: str, figure) -> None:  # saved and closed at once: an open figure holds memory
        save_figure(figure, out / f"{name}.png")
        plt.close(figure)

    write("composition", plots.plot_composition(train_counts, eval_counts))
    write("group_examples", plots.plot_group_examples(splits.x_eval, splits.tone_eval,
                                                      splits.ita_eval, eval_faces))
    write("ita_by_race", plots.plot_ita_by_race(all_faces["ita"], all_faces["race"],
                                                config.ita_threshold))
    write("tone_extremes", plots.plot_tone_extremes(splits.x_eval, splits.race_eval,
                                                    splits.ita_eval))
    write("schematic", draw_dbvae_schematic(example_image=splits.train_faces[0]))
    write("recall_by_group", recall_figure(metrics, "tone", TONE_GROUPS,
                                           "Face recall per skin-tone group (one run each)"))
    write("recall_by_race", recall_figure(metrics, "race", RACES,
                                          "Face recall per race label (one run each)"))
    write("histories", plots.plot_histories({LEGEND[name]: h for name, h in histories.items()}))

    dbvae = models["dbvae"]
    faces = splits.x_train[train_faces]
    weights = sampling_weights(latent_means(dbvae, faces), config.num_bins,
                               config.smoothing_alpha, config.resampling_aggregate)
    write("resampling_extremes",
          plots.plot_resampling_extremes(faces, weights, splits.tone_train[train_faces]))
    natural = {g: count / len(faces) for g, count in train_counts.items()}
    write("group_shares", plots.plot_group_shares(histories["dbvae"], natural))
    eval_images, eval_tone = splits.x_eval[eval_faces], splits.tone_eval[eval_faces]
    examples = eval_images[np.linspace(0, len(eval_images) - 1, 8).astype(int)]
    write("reconstructions",
          plots.plot_reconstructions(examples, reconstruct(dbvae, examples)))
    first, last = (eval_images[np.flatnonzero(eval_tone == g)[0]] for g in ("LF", "DM"))
    write("interpolation", plots.plot_interpolation(interpolate(dbvae, first, last)))
    write("prior_samples", plots.show_images(sample_prior(dbvae, 16, seed=config.seed),
                                             ncols=8, suptitle="decoded from z ~ N(0, I)"))
    eval_means = latent_means(dbvae, eval_images)
    walk = tone_walk(dbvae, eval_means, splits.ita_eval[eval_faces], eval_tone)
    write("tone_traversal", plots.plot_tone_walk(walk))
    test_faces, groups = load_mit_test_faces(config.image_size, profile=config.profile)
    test_probabilities = {name: face_probabilities(m, test_faces) for name, m in models.items()}
    write("mit_test_faces", plots.plot_test_faces(
        test_faces, groups, {LEGEND[name]: p for name, p in test_probabilities.items()}))

    report = {"metrics": metrics, "train_counts": train_counts, "eval_counts": eval_counts,
              "tone_dimension": {"dimension": walk["dimension"],
                                 "spearman_with_ita": walk["correlation"]},
              "mit_test_faces": {"groups": groups, **{name: [float(p) for p in probs]
                                 for name, probs in test_probabilities.items()}}}
    atomic_write_text(out / "metrics.json", json.dumps(report, indent=1))
    print(f"wrote models, histories, metrics and figures to {out}")
    return report


if __name__ == "__main__":
    main()
