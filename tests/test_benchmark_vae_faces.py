"""The faces benchmark on a tiny real run: the agreed JSON shape, and the ablation arm."""

import json

import pytest

from vae_faces.config import RACES


def test_benchmark_writes_the_agreed_json_shape(tmp_path):
    from benchmarks import vae_faces as bench

    out = tmp_path / "vae_faces.json"
    bench.main(["--seeds", "0", "--profile", "smoke", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["seeds"] == [0]
    assert set(result["per_group_n"]) == set(RACES)
    for arm in ("cnn", "dbvae", "dbvae_uniform", "dbvae_group_oracle", "cnn_balanced"):
        runs = result[arm]
        assert set(runs["recall_by_group"]) == set(RACES)
        for key in ("worst_group_recall", "gap", "precision", "train_seconds"):
            assert len(runs[key]) == 1
        recalls = [values[0] for values in runs["recall_by_group"].values()]
        assert runs["gap"][0] == pytest.approx(max(recalls) - min(recalls))
        assert runs["worst_group_recall"][0] == min(recalls)
        matched = runs["matched_fpr"]
        assert matched["false_positive_rate"] == bench.MATCHED_FPR
        matched_recalls = [values[0] for values in matched["recall_by_group"].values()]
        assert matched["gap"][0] == pytest.approx(max(matched_recalls) - min(matched_recalls))
        assert 0.0 <= matched["precision"][0] <= 1.0 and len(matched["threshold"]) == 1
    # Resampling moves the groups' shares of the draws away from their shares of the training
    # faces; the uniform arm keeps them; the oracle makes them equal.
    skewed = result["train_faces_by_group"]
    assert set(result["balanced_train_faces_by_group"].values()) == {
        round(sum(skewed.values()) / len(RACES))}
    natural = result["train_face_share_by_group"]
    resampled = result["dbvae_draw_share_by_group"][0]
    uniform = result["uniform_draw_share_by_group"][0]
    oracle = result["group_oracle_draw_share_by_group"][0]
    assert any(abs(resampled[race][-1] - natural[race]) > 1e-3 for race in RACES)
    for race in RACES:
        assert uniform[race][-1] == pytest.approx(natural[race], abs=1e-4)
        assert oracle[race][-1] == pytest.approx(1 / len(RACES), abs=1e-4)
