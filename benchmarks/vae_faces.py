"""Benchmark: does the DB-VAE recover what a skewed training set costs the darker-skinned faces?

    python -m benchmarks.vae_faces [--seeds 0 1 2 3 4] [--profile cpu]

(Run it as a module: as a script, this file would shadow the vae_faces package.)

The training faces are skewed by skin tone (``config.SKEWED_TRAIN_COUNTS``: darker faces
rare; groups from the individual typology angle, ``vae_faces.skin_tone``). Seven arms, every
run from scratch (checkpoints in a temporary folder), all on the same skewed set and with the
chapter's training-only shifts and zooms unless said:

* ``cnn``: the standard classifier;
* ``dbvae``: the debiasing VAE, drawing faces by inverse latent density;
* ``dbvae_uniform``: the same model drawing faces uniformly (what the resampling itself adds);
* ``dbvae_group``: the same model drawing each skin-tone group equally, read from the labels
  it never otherwise sees (the best any resampler of these faces could do at finding groups);
* ``cnn_balanced``: the CNN on a set of as many faces, equal per group (more distinct darker
  faces than any re-weighting of the skewed set has);
* ``cnn_fixed_frame``: the CNN without the shifts and zooms, every face where FairFace's
  alignment put it (what the shifts do for faces from another source, the MIT lab's, and to
  the tone gap);
* ``cnn_augmented``: the CNN with, on top of the shifts, random flips, brightness, contrast and
  erased patches (``build_augmented_cnn``): do varied lighting and occlusion help either?

Each run is read on the balanced evaluation set at threshold 0.5 and at a matched false-positive
rate (the threshold that calls 1% of held-out calibration non-faces faces), per skin-tone group
(``"skin_tone"`` in the JSON) and per race label (the top-level arm keys: a second view of the
same runs). Also: recall on the evaluation faces that the same seed's DB-VAE places in the
rarest 10% of its latent space, against the rest (the method's own claim), and how many of the
20 MIT lab test faces each arm finds per group. Writes benchmarks/results/vae_faces.json with
the issue's targets checked under ``"skin_tone"/"targets"``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.env import describe_device, set_seed
from vae_faces.config import RACES, balanced_counts, get_config
from vae_faces.data import load_mit_test_faces, load_splits
from vae_faces.metrics import (
    MATCHED_FPR,
    bootstrap_intervals,
    recall_on_rarest,
    summarize,
    threshold_at_fpr,
)
from vae_faces.model import build_cnn, build_dbvae
from vae_faces.resampling import latent_rarity
from vae_faces.skin_tone import TONE_GROUPS
from vae_faces.train import face_probabilities, latent_means, train

RESULTS = Path(__file__).resolve().parent / "results" / "vae_faces.json"
KEYS = ("worst_group_recall", "gap", "precision", "train_seconds")
RARE_FRACTION = 0.1  # "rare" faces: the DB-VAE's rarest tenth of the evaluation faces
ARMS = ("cnn", "dbvae", "dbvae_uniform", "dbvae_group", "cnn_balanced", "cnn_fixed_frame",
        "cnn_augmented")
MAX_TRAIN_SECONDS = 900


def build_augmented_cnn(config) -> keras.Model:
    """The chapter's CNN (with its shifts and zooms) behind more training-only augmentation: a
    mirror image, brightness and contrast moved (lighting differs between photo collections)
    and a random patch erased (sunglasses, hands). Identity at prediction."""
    seed, size = config.seed, config.image_size
    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomBrightness(0.3, value_range=(0, 1), seed=seed),
        keras.layers.RandomContrast(0.4, value_range=(0, 1), seed=seed),
        keras.layers.RandomErasing(factor=0.5, scale=(0.05, 0.2), value_range=(0, 1), seed=seed),
        build_cnn(config),
    ], name="cnn_augmented")


def read_out(probabilities, splits, threshold: float) -> dict:
    """Recalls per race and per skin-tone group, worst group, gap and precision at one
    threshold, with bootstrap 95% intervals of the face recalls."""
    faces = splits.y_eval == 1
    reading = {}
    for name, groups, names in (("race", splits.race_eval, RACES),
                                ("tone", splits.tone_eval, TONE_GROUPS)):
        reading[name] = summarize(probabilities, splits.y_eval, groups, threshold, names)
        reading[name]["bootstrap_95"] = bootstrap_intervals(
            probabilities[faces], groups[faces], threshold, group_names=names)
    return reading


def run_one(build, train_splits, splits, config, folder: Path, label: str, mit) -> dict:
    """Train one model from scratch; read it on the evaluation set and the MIT faces."""
    set_seed(config.seed)
    model = build(config)
    wall, cpu = time.perf_counter(), time.process_time()
    history = train(model, train_splits, config, folder=folder, validate=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    probabilities = face_probabilities(model, splits.x_eval)
    threshold = threshold_at_fpr(face_probabilities(model, splits.x_calibration), MATCHED_FPR)
    mit_images, mit_groups = mit
    mit_probabilities = face_probabilities(model, mit_images)
    result = {
        "threshold": threshold,
        "at_0.5": read_out(probabilities, splits, 0.5),
        "matched_fpr": read_out(probabilities, splits, threshold),
        "mit_found": {
            reading: {group: int(np.sum(mit_probabilities[np.array(mit_groups) == group] >= t))
                      for group in TONE_GROUPS}
            for reading, t in (("threshold_0.5", 0.5), ("matched_fpr", threshold))
        },
        "probabilities": probabilities,  # for the rare-decile reading; not written out
        "train_seconds": round(wall, 1),
        "train_cpu_seconds": round(cpu, 1),
    }
    if "share_LF" in history:  # the DB-VAE: each group's share of the faces drawn, per epoch
        result["draw_share_by_group"] = {
            group: [round(float(v), 4) for v in history[f"share_{group}"]]
            for group in (*TONE_GROUPS, *RACES)
        }
    if config.resampling == "latent" and hasattr(model, "decoder"):
        result["rarity"] = latent_rarity(
            latent_means(model, train_splits.train_faces),
            latent_means(model, splits.x_eval[splits.y_eval == 1]),
            config.num_bins, config.smoothing_alpha, config.resampling_aggregate,
        )
    tone = result["matched_fpr"]["tone"]
    print(f"  {label} seed {config.seed}: matched FPR worst tone group "
          f"{tone['worst_group_recall']:.3f}, gap {tone['gap']:.3f} ("
          + ", ".join(f"{g} {r:.3f}" for g, r in tone["recall_by_group"].items())
          + f"); precision at 0.5 {result['at_0.5']['tone']['precision']:.3f}; "
          f"{wall:.0f} s ({cpu:.0f} CPU s)", flush=True)
    return result


def rare_decile_recall(result: dict, rarity: np.ndarray, splits) -> dict:
    """Recall at the matched FPR on the rarest tenth of the evaluation faces and on the rest."""
    found = result["probabilities"][splits.y_eval == 1] >= result["threshold"]
    rarest, rest = recall_on_rarest(rarity, found, RARE_FRACTION)
    return {"rarest_10_percent": rarest, "rest": rest}


def collect(runs: list[dict], reading: str, view: str, names) -> dict:
    """Per-seed lists of one reading ("at_0.5" or "matched_fpr") of one view ("race", "tone")."""
    readings = [run[reading][view] for run in runs]
    return {
        "recall_by_group": {name: [r["recall_by_group"][name] for r in readings]
                            for name in names},
        **{key: [r[key] for r in readings] for key in ("worst_group_recall", "gap", "precision")},
        "bootstrap_95": [r["bootstrap_95"] for r in readings],
    }


def race_view(runs: list[dict]) -> dict:
    """The race-label reading, in the JSON shape of the chapter's earlier benchmark."""
    view = collect(runs, "at_0.5", "race", RACES)
    view.pop("bootstrap_95")
    view["train_seconds"] = [run["train_seconds"] for run in runs]
    view["matched_fpr"] = {
        "false_positive_rate": MATCHED_FPR,
        "threshold": [run["threshold"] for run in runs],
        **{key: value for key, value in collect(runs, "matched_fpr", "race", RACES).items()
           if key != "bootstrap_95"},
    }
    return view


def tone_view(runs: list[dict], rare: list[dict] | None) -> dict:
    """One arm's skin-tone block: the issue's keys, plus threshold 0.5 and the MIT faces."""
    at_half = collect(runs, "at_0.5", "tone", TONE_GROUPS)
    block = {
        "precision": at_half["precision"],
        "train_seconds": [run["train_seconds"] for run in runs],
        "train_cpu_seconds": [run["train_cpu_seconds"] for run in runs],
        "matched_fpr": {"threshold": [run["threshold"] for run in runs],
                        **collect(runs, "matched_fpr", "tone", TONE_GROUPS)},
        "threshold_0.5": at_half,
        "mit_faces_found": {reading: {g: [run["mit_found"][reading][g] for run in runs]
                                      for g in TONE_GROUPS}
                            for reading in ("threshold_0.5", "matched_fpr")},
    }
    if rare is not None:
        block["rare_decile_recall"] = {key: [r[key] for r in rare]
                                       for key in ("rarest_10_percent", "rest")}
    return block


def mean_worst_group(tone: dict, arm: str) -> float:
    """An arm's worst skin-tone group recall at the matched FPR, mean over seeds."""
    return float(np.mean(tone[arm]["matched_fpr"]["worst_group_recall"]))


def recovery_of_ceiling_gain(tone: dict, arm: str) -> float | None:
    """(worst_arm - worst_cnn) / (worst_balanced - worst_cnn): the share of what the balanced
    set gains for the worst group that ``arm`` gains too (None when the balanced set gains
    nothing)."""
    worst_cnn = mean_worst_group(tone, "cnn")
    ceiling_gain = mean_worst_group(tone, "cnn_balanced") - worst_cnn
    return (mean_worst_group(tone, arm) - worst_cnn) / ceiling_gain if ceiling_gain > 0 else None


def check_targets(tone: dict) -> dict:
    """The issue's targets on the seed means, at the matched FPR, skin-tone groups."""
    arms = [arm for arm in ARMS if arm in tone]
    worst = {arm: mean_worst_group(tone, arm) for arm in arms}
    gap = {arm: float(np.mean(tone[arm]["matched_fpr"]["gap"])) for arm in arms}
    recovery = recovery_of_ceiling_gain(tone, "dbvae")
    precision = {arm: float(np.mean(tone[arm]["precision"])) for arm in arms}
    slowest = max(max(tone[arm]["train_seconds"]) for arm in arms)
    targets = {
        "skewed_cnn_gap": (gap["cnn"], ">= 0.05", gap["cnn"] >= 0.05),
        "balanced_gap": (gap["cnn_balanced"], f"<= {gap['cnn'] / 2:.4f} (half the CNN's)",
                         gap["cnn_balanced"] <= gap["cnn"] / 2),
        "dbvae_recovery_of_ceiling_gain": (recovery, ">= 0.5",
                                           recovery is not None and recovery >= 0.5),
        "dbvae_worst_minus_uniform_worst": (worst["dbvae"] - worst["dbvae_uniform"], "> 0",
                                            worst["dbvae"] > worst["dbvae_uniform"]),
        "dbvae_precision_minus_cnn": (precision["dbvae"] - precision["cnn"], ">= -0.01",
                                      precision["dbvae"] - precision["cnn"] >= -0.01),
        "slowest_train_seconds": (slowest, f"<= {MAX_TRAIN_SECONDS}",
                                  slowest <= MAX_TRAIN_SECONDS),
    }
    return {name: {"value": value, "target": target, "met": bool(met)}
            for name, (value, target, met) in targets.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    base = get_config(args.profile)
    print(f"config: {base}", flush=True)
    splits = load_splits(base)
    # The ceiling of any re-weighting: the CNN on a balanced training set of the same size
    # (same evaluation set; the non-faces are drawn independently of the faces).
    balanced = {"train_counts": balanced_counts(base.train_counts)}
    balanced_splits = load_splits(get_config(args.profile, **balanced))
    mit = load_mit_test_faces(base.image_size, profile=base.profile)
    arms = {  # name: (builder, config overrides, training data)
        "cnn": (build_cnn, {}, splits),
        "dbvae": (build_dbvae, {}, splits),
        "dbvae_uniform": (build_dbvae, {"resampling": "uniform"}, splits),
        "dbvae_group": (build_dbvae, {"resampling": "group"}, splits),
        "cnn_balanced": (build_cnn, balanced, balanced_splits),
        "cnn_fixed_frame": (build_cnn, {"shift_fraction": 0.0, "zoom_fraction": 0.0}, splits),
        "cnn_augmented": (build_augmented_cnn, {}, splits),
    }
    assert tuple(arms) == ARMS
    runs = {name: [] for name in arms}
    rare = {name: [] for name in arms}
    with tempfile.TemporaryDirectory(prefix="vae_faces_bench-") as scratch:
        for seed in args.seeds:
            for name, (build, overrides, data) in arms.items():
                config = get_config(args.profile, seed=seed, **overrides)
                folder = Path(scratch) / f"{name}-{seed}"
                runs[name].append(run_one(build, data, splits, config, folder, name, mit))
            rarity = runs["dbvae"][-1]["rarity"]  # this seed's DB-VAE decides who is rare
            for name in arms:
                rare[name].append(rare_decile_recall(runs[name][-1], rarity, splits))

    faces = splits.y_eval == 1
    skin_tone = {
        "ita_threshold": base.ita_threshold,
        "per_group_n": {g: int(np.sum(splits.tone_eval[faces] == g)) for g in TONE_GROUPS},
        "train_faces_by_group": base.train_counts,
        "balanced_train_faces_by_group": balanced["train_counts"],
        "false_positive_rate": MATCHED_FPR,
        "mit_faces_per_group": {g: int(np.sum(np.array(mit[1]) == g)) for g in TONE_GROUPS},
        **{name: tone_view(runs[name], rare[name]) for name in arms},
    }
    skin_tone["targets"] = check_targets(skin_tone)
    # The DB-VAE's target read against what its resampler could reach: the group oracle.
    skin_tone["recovery_of_ceiling_gain"] = {
        arm: recovery_of_ceiling_gain(skin_tone, arm)
        for arm in ("dbvae", "dbvae_uniform", "dbvae_group")
    }
    train_faces = splits.y_train == 1
    result = {
        "machine": f"{describe_device()}, {platform.platform()}",
        "seeds": args.seeds,
        "profile": base.profile,
        "backend": keras.backend.backend(),
        "skin_tone": skin_tone,
        # The race-label reading of the same runs (the keys of the earlier, race-skewed runs).
        "per_group_n": {race: int(np.sum(splits.race_eval[faces] == race)) for race in RACES},
        **{name: race_view(runs[name]) for name in arms},
        "train_faces_by_group": {race: int(np.sum(splits.race_train[train_faces] == race))
                                 for race in RACES},
        "bootstrap_95": {name: [run["at_0.5"]["race"]["bootstrap_95"] for run in model_runs]
                         for name, model_runs in runs.items()},
        # The resampler at work: per seed, each group's share of the DB-VAE's draws per epoch.
        "dbvae_draw_share_by_group": [run["draw_share_by_group"] for run in runs["dbvae"]],
        "uniform_draw_share_by_group": [run["draw_share_by_group"]
                                        for run in runs["dbvae_uniform"]],
    }
    for name, target in skin_tone["targets"].items():
        print(f"{name}: {target['value']} (target {target['target']}): "
              f"{'met' if target['met'] else 'MISSED'}")
    print("recovery of the balanced set's gain:", skin_tone["recovery_of_ceiling_gain"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
