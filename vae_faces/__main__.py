"""Train the standard CNN and the DB-VAE on the skewed faces; write models, metrics, figures.

    python -m vae_faces --profile cpu

Everything goes to training_checkpoints/vae_faces/<profile>/; a rerun resumes or reloads.
"""

from __future__ import annotations

import json

import numpy as np

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.atomic import atomic_write_text
from course.env import environment_report, set_seed
from course.figures import save_figure
from course.profiles import profile_from_command_line
from vae_faces import plots
from vae_faces.config import RACES, get_config
from vae_faces.data import load_mit_test_faces, load_splits
from vae_faces.metrics import bootstrap_intervals, summarize
from vae_faces.resampling import sampling_weights


def main(argv=None) -> dict:
    config = get_config(profile_from_command_line(__doc__, argv))
    # Imported only once the command line is read: they load TensorFlow (seconds), and a
    # mistyped --profile or --help should answer at once.
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

    models, histories, metrics, intervals = {}, {}, {}, {}
    for name, build in (("cnn", build_cnn), ("dbvae", build_dbvae)):
        set_seed(config.seed)
        model = build(config)
        histories[name] = train(model, splits, config)
        probabilities = face_probabilities(model, splits.x_eval)
        metrics[name] = summarize(probabilities, splits.y_eval, splits.race_eval)
        faces = splits.y_eval == 1
        intervals[name] = bootstrap_intervals(probabilities[faces], splits.race_eval[faces])
        print(f"{name}: worst-group recall {metrics[name]['worst_group_recall']:.3f}, "
              f"gap {metrics[name]['gap']:.3f}, precision {metrics[name]['precision']:.3f}",
              flush=True)
        models[name] = model

    train_faces = splits.y_train == 1
    face_race = splits.race_train[train_faces]
    train_counts = {race: int(np.sum(face_race == race)) for race in RACES}
    eval_counts = {race: int(np.sum(splits.race_eval == race)) for race in RACES}
    save_figure(plots.plot_composition(train_counts, eval_counts), out / "composition.png")
    recalls = {name: {race: [value] for race, value in m["recall_by_group"].items()}
               for name, m in metrics.items()}
    save_figure(plots.plot_recall_by_group(recalls, intervals), out / "recall_by_group.png")
    save_figure(plots.plot_histories(histories), out / "histories.png")

    dbvae = models["dbvae"]
    faces = splits.x_train[train_faces]
    weights = sampling_weights(latent_means(dbvae, faces), config.num_bins,
                               config.smoothing_alpha, config.resampling_aggregate)
    save_figure(plots.plot_resampling_extremes(faces, weights, face_race),
                out / "resampling_extremes.png")
    natural = {race: count / len(faces) for race, count in train_counts.items()}
    save_figure(plots.plot_group_shares(histories["dbvae"], natural), out / "group_shares.png")
    eval_faces = splits.x_eval[splits.y_eval == 1][:: max(1, int(train_faces.sum()) // 8)][:8]
    save_figure(plots.plot_reconstructions(eval_faces, reconstruct(dbvae, eval_faces)),
                out / "reconstructions.png")
    save_figure(plots.plot_interpolation(interpolate(dbvae, eval_faces[0], eval_faces[1])),
                out / "interpolation.png")
    test_faces, groups = load_mit_test_faces(config.image_size, profile=config.profile)
    test_probabilities = {name: face_probabilities(m, test_faces) for name, m in models.items()}
    save_figure(plots.plot_test_faces(test_faces, groups, test_probabilities),
                out / "mit_test_faces.png")

    report = {"metrics": metrics, "bootstrap_95": intervals, "train_counts": train_counts,
              "mit_test_faces": {name: [float(p) for p in probs]
                                 for name, probs in test_probabilities.items()}}
    atomic_write_text(out / "metrics.json", json.dumps(report, indent=1))
    print(f"wrote models, histories, metrics and figures to {out}")
    return report


if __name__ == "__main__":
    main()
