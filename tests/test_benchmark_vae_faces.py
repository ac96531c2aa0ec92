"""The faces benchmark on a tiny real run: the agreed JSON shape, and what each arm does."""

import json

import numpy as np
import pytest

from vae_faces.config import RACES
from vae_faces.skin_tone import TONE_GROUPS


def check_reading(reading: dict, names) -> None:
    """Worst group and gap agree with the recalls they summarise (one seed)."""
    assert set(reading["recall_by_group"]) == set(names)
    recalls = [values[0] for values in reading["recall_by_group"].values()]
    assert reading["gap"][0] == pytest.approx(max(recalls) - min(recalls))
    assert reading["worst_group_recall"][0] == min(recalls)


@pytest.mark.slow
def test_benchmark_writes_the_agreed_json_shape(tmp_path):
    from benchmarks import vae_faces as bench

    out = tmp_path / "vae_faces.json"
    bench.main(["--seeds", "0", "--profile", "smoke", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["seeds"] == [0]

    tone = result["skin_tone"]
    assert set(tone["per_group_n"]) == set(TONE_GROUPS)
    # The balanced arm trains on as many faces as the skewed set, equal per group.
    skewed = tone["train_faces_by_group"]
    assert set(tone["balanced_train_faces_by_group"].values()) == {
        round(sum(skewed.values()) / len(TONE_GROUPS))}
    for arm in bench.ARMS:
        block = tone[arm]
        assert len(block["precision"]) == len(block["train_seconds"]) == 1
        check_reading(block["matched_fpr"], TONE_GROUPS)
        check_reading(block["threshold_0.5"], TONE_GROUPS)
        rare = block["rare_decile_recall"]
        assert 0 <= rare["rarest_10_percent"][0] <= 1 and 0 <= rare["rest"][0] <= 1
        found = block["mit_faces_found"]["threshold_0.5"]
        assert all(0 <= found[g][0] <= tone["mit_faces_per_group"][g] for g in TONE_GROUPS)
        # The race-label reading of the same run.
        check_reading(result[arm], RACES)
        check_reading(result[arm]["matched_fpr"], RACES)
        assert result[arm]["matched_fpr"]["threshold"] == block["matched_fpr"]["threshold"]
    assert set(tone["targets"]) >= {"skewed_cnn_gap", "dbvae_recovery_of_ceiling_gain"}
    assert set(tone["recovery_of_ceiling_gain"]) == {"dbvae", "dbvae_uniform", "dbvae_group"}
    assert all(isinstance(target["met"], bool) for target in tone["targets"].values())

    # Resampling moves the groups' shares of the draws away from their shares of the training
    # faces; the uniform arm keeps them.
    natural = {g: count / sum(skewed.values()) for g, count in skewed.items()}
    resampled = result["dbvae_draw_share_by_group"][0]
    uniform = result["uniform_draw_share_by_group"][0]
    assert any(abs(resampled[g][-1] - natural[g]) > 1e-3 for g in TONE_GROUPS)
    for group in TONE_GROUPS:
        assert uniform[group][-1] == pytest.approx(natural[group], abs=1e-4)


def test_rare_decile_recall_reads_the_rarest_tenth():
    from benchmarks import vae_faces as bench

    class Splits:
        y_eval = np.array([1.0] * 20 + [0.0] * 5)

    # Faces 0 and 1 are the rarest two of twenty; only face 0 clears the threshold among them.
    rarity = np.arange(20, 0, -1).astype(float)
    probabilities = np.concatenate([[0.9, 0.1], np.full(18, 0.9), np.zeros(5)])
    result = {"probabilities": probabilities, "threshold": 0.5}
    recall = bench.rare_decile_recall(result, rarity, Splits)
    assert recall == {"rarest_10_percent": 0.5, "rest": 1.0}


def test_targets_are_checked_on_the_seed_means():
    from benchmarks import vae_faces as bench

    def arm(worst, gap, precision=0.99, seconds=10.0):
        return {"precision": [precision], "train_seconds": [seconds],
                "matched_fpr": {"worst_group_recall": [worst], "gap": [gap]}}

    tone = {"cnn": arm(0.80, 0.10), "dbvae": arm(0.86, 0.05, precision=0.985),
            "dbvae_uniform": arm(0.82, 0.08), "cnn_balanced": arm(0.90, 0.04, seconds=950)}
    targets = bench.check_targets(tone)
    assert targets["skewed_cnn_gap"]["met"]
    assert targets["balanced_gap"]["met"]  # 0.04 <= 0.10 / 2
    assert targets["dbvae_recovery_of_ceiling_gain"]["value"] == pytest.approx(0.6)
    assert targets["dbvae_worst_minus_uniform_worst"]["met"]
    assert targets["dbvae_precision_minus_cnn"]["met"]  # -0.005
    assert not targets["slowest_train_seconds"]["met"]  # 950 s
    tone["dbvae_group"] = arm(0.88, 0.03)
    assert bench.recovery_of_ceiling_gain(tone, "dbvae_group") == pytest.approx(0.8)
    assert bench.recovery_of_ceiling_gain(tone, "dbvae_uniform") == pytest.approx(0.2)
    tone["cnn_balanced"] = arm(0.78, 0.09)  # no gain to recover: no ratio, target missed
    assert bench.recovery_of_ceiling_gain(tone, "dbvae_group") is None
    missed = bench.check_targets(tone)
    assert missed["dbvae_recovery_of_ceiling_gain"]["value"] is None
    assert not missed["dbvae_recovery_of_ceiling_gain"]["met"]
    assert not missed["balanced_gap"]["met"]
