"""Chapter 4 package: VAE loss pieces, DB-VAE masking, resampling weights, metrics."""

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
from dataclasses import replace

import keras
import numpy as np
import pytest

from course.autodiff import value_and_gradients
from vae_faces.config import RACES, balanced_counts, get_config
from vae_faces.metrics import (
    bootstrap_intervals,
    latent_group_separation,
    precision,
    recall_by_group,
    recall_on_rarest,
    separation_auc,
    summarize,
    threshold_at_fpr,
)
from vae_faces.model import (
    RandomShiftZoom,
    Reparameterize,
    build_augmenter,
    build_cnn,
    build_dbvae,
    debiasing_loss,
    interpolation_matrices,
    kl_divergence,
    reconstruction_loss,
    shift_zoom,
)
from vae_faces.resampling import (
    AGGREGATES,
    effective_sample_size,
    group_balanced_weights,
    histogram_density,
    latent_rarity,
    sampling_weights,
)


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(3, 4)).astype("float32")
    log_variance = rng.normal(scale=0.7, size=(3, 4)).astype("float32")
    closed = keras.ops.convert_to_numpy(kl_divergence(mean, log_variance))
    # KL(q || p) = E_q[log q(z) - log p(z)], estimated with draws from q.
    sigma = np.exp(0.5 * log_variance)
    z = mean + sigma * rng.normal(size=(200_000, 3, 4))
    log_q = -0.5 * (((z - mean) / sigma) ** 2 + np.log(2 * np.pi) + log_variance)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    estimate = (log_q - log_p).sum(axis=-1).mean(axis=0)
    np.testing.assert_allclose(closed, estimate, rtol=0.02, atol=0.01)
    # The notes' printed form (sigma in place of sigma^2) is a different number.
    wrong = 0.5 * (sigma + mean**2 - 1 - np.log(sigma)).sum(axis=-1)
    assert not np.allclose(wrong, estimate, rtol=0.05)
    assert np.all(closed >= 0)
    zero = kl_divergence(np.zeros((1, 4), "float32"), np.zeros((1, 4), "float32"))
    assert float(keras.ops.convert_to_numpy(zero)[0]) == 0.0


def test_reparameterization_has_the_right_moments_and_passes_gradients():
    layer = Reparameterize(seed=3)
    mean_values = np.tile([[1.0, -2.0]], (50_000, 1)).astype("float32")
    mean = keras.Variable(mean_values)
    variances = np.tile([[4.0, 0.25]], (50_000, 1))
    log_variance = keras.Variable(np.log(variances).astype("float32"))

    def total_and_draws():
        z = layer(mean, log_variance)
        return keras.ops.sum(z), z

    _, (d_mean, d_log_variance), z = value_and_gradients(
        total_and_draws, [mean, log_variance], has_aux=True
    )
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(z.var(axis=0), [4.0, 0.25], rtol=0.03)
    # dz/dmu = 1 and dz/dlogvar = sigma * eps / 2 = (z - mu) / 2
    np.testing.assert_allclose(d_mean, 1.0)
    np.testing.assert_allclose(d_log_variance, (z - mean_values) / 2, atol=1e-5)


def test_debiasing_loss_adds_the_vae_term_for_faces_only():
    rng = np.random.default_rng(1)
    images = rng.random((2, 8, 8, 3)).astype("float32")
    reconstructions = rng.random((2, 8, 8, 3)).astype("float32")
    mean = rng.normal(size=(2, 5)).astype("float32")
    log_variance = rng.normal(size=(2, 5)).astype("float32")
    logits = np.array([0.3, 1.7], "float32")
    is_face = np.array([1.0, 0.0], "float32")
    loss = keras.ops.convert_to_numpy(
        debiasing_loss(is_face, logits, images, reconstructions, mean, log_variance, 0.1)
    )
    probability = 1 / (1 + np.exp(-logits))
    cross_entropy = -(is_face * np.log(probability) + (1 - is_face) * np.log(1 - probability))
    kl = 0.5 * (np.exp(log_variance) + mean**2 - 1 - log_variance).sum(axis=1)
    l1 = np.abs(images - reconstructions).reshape(2, -1).mean(axis=1)
    np.testing.assert_allclose(loss[0], cross_entropy[0] + 0.1 * kl[0] + l1[0], rtol=1e-5)
    np.testing.assert_allclose(loss[1], cross_entropy[1], rtol=1e-5)  # non-face: no VAE term
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reconstruction_loss(images, reconstructions)), l1, rtol=1e-6
    )


def _decoder_gradient_norm(model, images, labels):
    def loss():
        outputs = model(images, training=True)
        return model.compute_loss(x=images, y=labels, y_pred=outputs)

    _, gradients = value_and_gradients(loss, model.decoder.trainable_variables)
    return sum(float(np.sum(g**2)) for g in gradients if g is not None)


def test_non_faces_train_only_the_classifier():
    config = get_config("smoke")
    model = build_dbvae(config)
    model.compile(optimizer="adam")
    images = np.random.default_rng(2).random((4, 32, 32, 3)).astype("float32")
    assert _decoder_gradient_norm(model, images, np.zeros(4, "float32")) == 0.0
    assert _decoder_gradient_norm(model, images, np.array([1, 0, 0, 0], "float32")) > 0.0


def test_models_give_one_face_logit_per_image_and_are_of_similar_size():
    config = get_config("smoke")
    images = np.zeros((3, 32, 32, 3), "float32")
    cnn, dbvae = build_cnn(config), build_dbvae(config)
    assert cnn(images).shape == (3, 1)
    outputs = dbvae(images)
    assert outputs["face_logit"].shape == (3,)
    assert outputs["reconstruction"].shape == (3, 32, 32, 3)
    assert outputs["mean"].shape == (3, config.latent_dim)
    # The classifier part (the encoder) differs from the CNN only in its last layer.
    last = dbvae.encoder.layers[-1].count_params() - cnn.layers[-1].count_params()
    assert dbvae.encoder.count_params() - cnn.count_params() == last


def test_histogram_density_matches_numpy():
    values = np.random.default_rng(3).normal(size=500)
    density, edges = np.histogram(values, bins=7, density=True)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, 6)
    np.testing.assert_allclose(histogram_density(values, 7), density[bins])


def test_sampling_weights_favour_rare_latent_regions():
    rng = np.random.default_rng(4)
    means = rng.normal(size=(400, 3))
    means[0] = [5.0, -5.0, 5.0]  # far out in every dimension
    for aggregate in AGGREGATES:
        weights = sampling_weights(means, num_bins=10, alpha=0.001, aggregate=aggregate)
        assert weights.shape == (400,) and np.all(weights > 0)
        np.testing.assert_allclose(weights.sum(), 1.0)
        assert weights.argmax() == 0
        # Typical points (near the centre in every dimension) get less than the average weight.
        central = np.all(np.abs(means) < 0.3, axis=1)
        assert weights[central].max() < 1 / 400
    # One dimension: a small cluster away from the crowd outweighs every member of the crowd,
    # in proportion to the inverse of the bin counts when alpha is 0.
    values = np.concatenate([rng.normal(size=390), np.full(10, 8.0)])[:, None]
    weights = sampling_weights(values, num_bins=4, alpha=0.0)
    assert weights[390:].min() > weights[:390].max()
    counts = np.bincount(np.minimum((values[:, 0] - values.min()) // (np.ptp(values) / 4), 3)
                         .astype(int), minlength=4)
    assert weights[390] / weights[0] == pytest.approx(counts[0] / 10)


def test_max_aggregate_matches_numpy_histograms_and_rewards_one_rare_dimension():
    rng = np.random.default_rng(6)
    means = rng.uniform(-1, 1, size=(300, 4))  # a crowd with no thin tails
    means[:6, 2] += 6.0  # six faces rare along dimension 2 only, typical along the others
    alpha = 0.01
    # Independent computation: numpy's density histogram of each standardised column,
    # s_j = 1 / (Q_j + alpha) normalised per column, W = max_j s_j, normalised.
    standardised = (means - means.mean(axis=0)) / means.std(axis=0)
    scores = []
    for column in standardised.T:
        density, edges = np.histogram(column, bins=10, density=True)
        bins = np.clip(np.searchsorted(edges, column, side="right") - 1, 0, 9)
        inverse = 1 / (density[bins] + alpha)
        scores.append(inverse / inverse.sum())
    expected = np.max(scores, axis=0)
    weights = sampling_weights(means, num_bins=10, alpha=alpha, aggregate="max")
    np.testing.assert_allclose(weights, expected / expected.sum())
    # Rare along one dimension is enough for the maximum: the six outrank every other face.
    assert weights[:6].min() > weights[6:].max()
    geometric = sampling_weights(means, num_bins=10, alpha=alpha, aggregate="geometric")
    assert weights[:6].sum() > geometric[:6].sum()


def test_alpha_smooths_the_weights_towards_uniform():
    means = np.random.default_rng(5).normal(size=(300, 4))
    for aggregate in AGGREGATES:
        spreads = [np.ptp(np.log(sampling_weights(means, alpha=a, aggregate=aggregate)))
                   for a in (0.0, 0.01, 1.0, 100.0)]
        assert all(a > b for a, b in zip(spreads, spreads[1:], strict=False))
        flat = sampling_weights(means, alpha=1e9, aggregate=aggregate)
        np.testing.assert_allclose(flat, 1 / 300, rtol=1e-6)
        assert effective_sample_size(flat) == pytest.approx(300)
    # The paper's product over dimensions concentrates more than the geometric mean.
    def size(aggregate):
        return effective_sample_size(sampling_weights(means, alpha=0.001, aggregate=aggregate))
    assert size("product") < size("geometric")
    with pytest.raises(ValueError, match="latent means"):
        sampling_weights(np.zeros(5))
    with pytest.raises(ValueError, match="aggregate"):
        sampling_weights(means, aggregate="mean")


def test_latent_rarity_ranks_new_faces_by_the_training_faces_density():
    rng = np.random.default_rng(7)
    train_means = rng.normal(size=(500, 3))
    # On the training faces themselves, rarity orders them as the sampling weights do.
    rarity = latent_rarity(train_means, train_means)
    weights = sampling_weights(train_means)
    np.testing.assert_allclose(np.exp(rarity - rarity.max()), weights / weights.max())
    # New faces: one at the centre, one past the training range in one dimension (it falls in
    # the edge bin of that dimension), one far out in all three.
    queries = np.array([[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [9.0, -9.0, 9.0]])
    scores = latent_rarity(train_means, queries)
    assert scores[0] < scores[1] <= scores[2]
    assert scores[1] == pytest.approx(latent_rarity(train_means, [[0.0, 50.0, 0.0]])[0])


def test_recall_precision_and_gap_on_a_hand_made_set():
    probabilities = np.array([0.9, 0.2, 0.6, 0.7, 0.1, 0.8])
    groups = np.array(["White", "White", "Black", "Black", "", ""])
    is_face = np.array([1, 1, 1, 1, 0, 0])
    recalls = recall_by_group(probabilities, groups, group_names=("White", "Black"))
    assert recalls == {"White": 0.5, "Black": 1.0}
    assert precision(probabilities, is_face) == pytest.approx(3 / 4)  # 3 of 4 called
    with pytest.raises(ValueError, match="Indian"):
        recall_by_group(probabilities, groups, group_names=("Indian",))
    full_groups = np.repeat(RACES, 2)
    summary = summarize(np.tile([0.9, 0.1], 7), np.ones(14), full_groups)
    assert summary["gap"] == 0.0 and summary["worst_group_recall"] == 0.5


def test_recall_on_rarest_splits_at_the_upper_quantile():
    rarity = np.array([5.0, 0.0, 9.0, 1.0, 8.0, 2.0, 3.0, 4.0, 7.0, 6.0])
    found = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    # rarest 20%: rarity 9 (missed) and 8 (found); the other eight miss one face (rarity 6)
    assert recall_on_rarest(rarity, found, 0.2) == (0.5, 7 / 8)
    with pytest.raises(ValueError, match="must match"):
        recall_on_rarest(rarity, found[:5], 0.2)


def test_bootstrap_interval_covers_the_truth_with_the_binomial_width():
    rng = np.random.default_rng(6)
    groups = np.repeat(RACES, 400)
    true_recall = np.linspace(0.75, 0.95, 7)
    probabilities = (rng.random(len(groups)) < np.repeat(true_recall, 400)).astype(float)
    intervals = bootstrap_intervals(probabilities, groups, num_resamples=4000, seed=0)
    for race in RACES:
        observed = probabilities[groups == race].mean()
        low, high = intervals[race]
        assert low < observed < high
        expected_width = 2 * 1.96 * np.sqrt(observed * (1 - observed) / 400)
        assert high - low == pytest.approx(expected_width, rel=0.15)
    observed_gap = max(probabilities[groups == r].mean() for r in RACES) - min(
        probabilities[groups == r].mean() for r in RACES)
    assert intervals["gap"][0] < observed_gap < intervals["gap"][1] + 1e-9
    assert 0.75 - 0.1 < intervals["worst"][0] < intervals["worst"][1] < 0.75 + 0.1
    # Identical groups: the gap's interval stays above zero (noise alone makes a gap).
    same = (rng.random(7 * 300) < 0.9).astype(float)
    noise_gap = bootstrap_intervals(same, np.repeat(RACES, 300), seed=1)["gap"]
    assert noise_gap[0] > 0.0


def test_separation_auc_counts_ordered_pairs_and_folds_direction():
    values = np.array([0.1, 0.4, 0.35, 0.8, 0.8])
    members = np.array([False, False, True, True, False])
    # Pairs (member, other) with member > other: 0.35 beats 0.1; 0.8 beats 0.1 and 0.4 and ties
    # 0.8 (a half): (1 + 2.5) / 6.
    assert separation_auc(values, members) == pytest.approx(3.5 / 6)
    assert separation_auc(-values, members) == pytest.approx(3.5 / 6)
    assert separation_auc([0, 1, 2, 3], [True, True, False, False]) == 1.0
    with pytest.raises(ValueError, match="both in and out"):
        separation_auc([1.0, 2.0], [True, True])


def test_latent_group_separation_finds_the_dimension_that_tells_a_group_apart():
    rng = np.random.default_rng(3)
    groups = np.repeat(["White", "Black"], 200)
    means = rng.normal(size=(400, 3))
    means[groups == "Black", 2] -= 3.0  # only dimension 2 carries the group
    separation = latent_group_separation(means, groups, group_names=("White", "Black"))
    auc, dimension = separation["Black"]
    assert dimension == 2 and auc > 0.95
    noise_only = latent_group_separation(means[:, :2], groups, group_names=("Black",))
    assert noise_only["Black"][0] < 0.6


def test_group_balanced_weights_give_every_group_an_equal_share():
    groups = np.array(["White"] * 6 + ["Black"] * 2 + ["Indian"])
    weights = group_balanced_weights(groups)
    assert weights.sum() == pytest.approx(1.0)
    for name in ("White", "Black", "Indian"):
        assert weights[groups == name].sum() == pytest.approx(1 / 3)
    assert weights[-1] == pytest.approx(1 / 3)  # a group of one gets its whole share
    with pytest.raises(ValueError, match="non-empty"):
        group_balanced_weights(np.array([]))


def test_balanced_counts_keep_the_total_and_split_it_equally():
    assert balanced_counts({"White": 900, "Black": 20, "Indian": 40}) == {
        "White": 320, "Black": 320, "Indian": 320}
    with pytest.raises(ValueError, match="at least one group"):
        balanced_counts({})


def test_threshold_at_fpr_calls_that_share_of_the_non_faces_faces():
    nonface_probabilities = np.linspace(0.0, 1.0, 1001)
    threshold = threshold_at_fpr(nonface_probabilities, 0.05)
    assert np.mean(nonface_probabilities >= threshold) == pytest.approx(0.05, abs=0.002)
    # A detector that leans towards "face" (every probability raised) gets a higher threshold
    # and so the same false-positive rate.
    leaning = np.sqrt(nonface_probabilities)
    assert threshold_at_fpr(leaning, 0.05) > threshold
    assert np.mean(leaning >= threshold_at_fpr(leaning, 0.05)) == pytest.approx(0.05, abs=0.002)
    with pytest.raises(ValueError, match="false-positive rate"):
        threshold_at_fpr(nonface_probabilities, 0.0)


def test_gpu_profile_models_build_and_take_one_step_on_cpu():
    from vae_faces.train import compile_model

    config = get_config("gpu")
    assert config.image_size == 64 and 100 <= config.latent_dim <= 200
    images = np.random.default_rng(0).uniform(size=(4, 64, 64, 3)).astype("float32")
    labels = np.array([1.0, 0.0, 1.0, 0.0], "float32")
    dbvae = compile_model(build_dbvae(config), config, total_steps=10)
    outputs = dbvae(images)
    assert outputs["reconstruction"].shape == (4, 64, 64, 3)
    assert outputs["mean"].shape == (4, config.latent_dim)
    before = [w.copy() for w in dbvae.get_weights()]
    loss = dbvae.train_on_batch(images, labels, return_dict=True)["loss"]
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, dbvae.get_weights(), strict=True))
    cnn = compile_model(build_cnn(config), config, total_steps=10)
    assert np.all(np.isfinite(cnn.train_on_batch(images, labels[:, None])))


def _random_images(config, count=4, seed=0):
    shape = (count, config.image_size, config.image_size, 3)
    return np.random.default_rng(seed).random(shape).astype("float32")


def test_shifts_and_zooms_move_faces_only_in_training():
    """The chapter's augmenter moves and scales the pixels in training (so it is not silently
    off), adds no light (interpolation mixes neighbours), and is absent when both fractions are
    0; the CNN behind it predicts as the same CNN without it."""
    config = get_config("smoke")
    augmenter = build_augmenter(config.shift_fraction, config.zoom_fraction, seed=0)
    assert [layer.name for layer in augmenter] == ["random_shift_zoom"]
    assert build_augmenter(0.0, 0.0, seed=0) == []
    images = _random_images(config)
    moved = images
    for layer in augmenter:
        moved = layer(moved, training=True)
    moved = keras.ops.convert_to_numpy(moved)
    assert np.abs(moved - images).mean() > 0.01
    assert moved.min() >= images.min() - 1e-6 and moved.max() <= images.max() + 1e-6

    cnn = build_cnn(config)
    fixed = build_cnn(replace(config, shift_fraction=0.0, zoom_fraction=0.0))
    assert len(fixed.layers) == len(cnn.layers) - 1
    fixed.set_weights(cnn.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cnn(images, training=False)),
                               keras.ops.convert_to_numpy(fixed(images, training=False)),
                               atol=1e-6)


# Non-square, zooms in and out, shifts that reach past the border (so the reflection counts).
_ZOOMS = np.array([0.0, 0.2, -0.2, 0.15, -0.1, 0.3], "float32")
_SHIFTS_Y = np.array([0.0, 3.0, -4.5, 7.3, -2.2, -9.9], "float32")
_SHIFTS_X = np.array([0.0, -2.0, 5.7, -3.1, 6.6, 8.8], "float32")


def test_shift_zoom_matches_keras_affine_transform_with_reflect_fill():
    """The separable resampling is Keras's general one for the same matrix: input coordinate
    c + (1 + zoom) (q - shift - c) for output pixel q, pixel i at coordinate i, bilinear, the
    border reflected (d c b a | a b c d | d c b a)."""
    images = np.random.default_rng(0).random((6, 32, 24, 3)).astype("float32")
    scale = 1.0 + _ZOOMS
    centre_y, centre_x = (32 - 1) / 2, (24 - 1) / 2
    zeros = np.zeros_like(scale)
    transform = np.stack([scale, zeros, centre_x * (1 - scale) - scale * _SHIFTS_X,
                          zeros, scale, centre_y * (1 - scale) - scale * _SHIFTS_Y,
                          zeros, zeros], axis=1)
    expected = keras.ops.image.affine_transform(images, transform, interpolation="bilinear",
                                                fill_mode="reflect")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(shift_zoom(images, _ZOOMS, _SHIFTS_Y, _SHIFTS_X)),
        keras.ops.convert_to_numpy(expected), atol=1e-5)


def test_shift_zoom_is_the_stock_zoom_then_translation_where_both_read_inside():
    """Same signs and order as RandomZoom then RandomTranslation: with whole-pixel shifts (the
    translation then interpolates nothing) the two agree wherever the translation reads inside
    the zoomed image; outside, the stock pair mirrors the zoomed image, this the input."""
    images = np.random.default_rng(1).random((6, 32, 24, 3)).astype("float32")
    shifts_y, shifts_x = np.round(_SHIFTS_Y), np.round(_SHIFTS_X)
    scale = (1.0 + _ZOOMS)[:, None]
    zoomed = keras.layers.RandomZoom(0.3).transform_images(
        images, {"height_zoom": scale, "width_zoom": scale}, training=True)
    stock = keras.ops.convert_to_numpy(keras.layers.RandomTranslation(0.5, 0.5).transform_images(
        zoomed, {"translations": np.stack([shifts_x, shifts_y], 1)}, training=True))
    ours = keras.ops.convert_to_numpy(shift_zoom(images, _ZOOMS, shifts_y, shifts_x))
    for index, (dy, dx) in enumerate(zip(shifts_y.astype(int), shifts_x.astype(int), strict=True)):
        rows, columns = slice(max(dy, 0), 32 + min(dy, 0)), slice(max(dx, 0), 24 + min(dx, 0))
        np.testing.assert_allclose(ours[index, rows, columns], stock[index, rows, columns],
                                   atol=1e-5)


def test_no_shift_or_zoom_is_the_identity_and_whole_pixel_shifts_are_reflected_rolls():
    images = np.random.default_rng(2).random((3, 8, 6, 2)).astype("float32")
    zeros = np.zeros(3, "float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(shift_zoom(images, zeros, zeros, zeros)), images)
    shifts_y, shifts_x = np.array([3, -5, 0]), np.array([-2, 4, 6])
    moved = keras.ops.convert_to_numpy(shift_zoom(
        images, zeros, shifts_y.astype("float32"), shifts_x.astype("float32")))
    for image, output, dy, dx in zip(images, moved, shifts_y, shifts_x, strict=True):
        # numpy's "symmetric" pad is Keras's "reflect": the border pixel repeated.
        padded = np.pad(image, ((8, 8), (6, 6), (0, 0)), mode="symmetric")
        np.testing.assert_array_equal(output, padded[8 - dy : 16 - dy, 6 - dx : 12 - dx])


def test_interpolation_rows_are_two_weights_summing_to_one_so_no_light_is_added():
    source = np.random.default_rng(3).uniform(-40, 70, size=(5, 32)).astype("float32")
    matrices = keras.ops.convert_to_numpy(interpolation_matrices(source, 32))
    assert matrices.shape == (5, 32, 32) and matrices.min() >= 0
    assert np.all((matrices > 0).sum(axis=-1) <= 2)
    np.testing.assert_allclose(matrices.sum(axis=-1), 1.0, atol=1e-6)
    constant = np.full((6, 32, 24, 3), 0.7, "float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(shift_zoom(constant, _ZOOMS, _SHIFTS_Y, _SHIFTS_X)), 0.7,
        atol=1e-6)


def test_random_shift_zoom_draws_per_image_in_training_only_and_repeats_with_its_seed():
    image = np.random.default_rng(4).random((1, 16, 16, 3)).astype("float32")
    images = np.repeat(image, 8, axis=0)
    layer = RandomShiftZoom(0.1, 0.2, seed=5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), images)
    moved = keras.ops.convert_to_numpy(layer(images, training=True))
    assert moved.shape == images.shape and np.abs(moved - images).mean() > 0.01
    assert len({output.tobytes() for output in moved}) == 8  # a draw per image
    again = keras.ops.convert_to_numpy(layer(images, training=True))
    assert not np.allclose(again, moved)  # new draws each step
    twin = RandomShiftZoom.from_config(RandomShiftZoom(0.1, 0.2, seed=5).get_config())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(twin(images, training=True)), moved)


def test_dbvae_reconstructs_the_moved_image_it_encoded():
    """In training the decoder's target is the shifted and zoomed image the encoder saw, not
    the original; at prediction the model sees the image as it is."""
    config = get_config("smoke")
    model = build_dbvae(config)
    images = _random_images(config)
    labels = np.ones(4, "float32")
    outputs = model(images, training=True)
    seen = keras.ops.convert_to_numpy(outputs["inputs"])
    assert np.abs(seen - images).mean() > 0.01
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(images)["inputs"]), images)

    def mean_loss(target):
        return float(np.mean(keras.ops.convert_to_numpy(debiasing_loss(
            labels, outputs["face_logit"], target, outputs["reconstruction"], outputs["mean"],
            outputs["log_variance"], model.kl_weight))))

    loss = float(keras.ops.convert_to_numpy(model.compute_loss(images, labels, outputs)))
    assert loss == pytest.approx(mean_loss(seen), rel=1e-5)
    assert loss != pytest.approx(mean_loss(images), rel=1e-3)


def test_augmented_arm_changes_images_only_while_training():
    """At prediction time the benchmark's augmented arm is its plain CNN; in training its extra
    layers move the pixels (so the arm is not silently the plain CNN)."""
    from benchmarks import vae_faces as bench

    config = get_config("smoke")
    model = bench.build_augmented_cnn(config)
    augmentation, cnn = model.layers[:-1], model.layers[-1]
    images = _random_images(config)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images, training=False)),
                               keras.ops.convert_to_numpy(cnn(images, training=False)), atol=1e-6)
    moved = images
    for layer in augmentation:
        moved = layer(moved, training=True)
    assert np.abs(keras.ops.convert_to_numpy(moved) - images).mean() > 0.01
