"""The shared training-curve plot and the atomic figure saver."""

import matplotlib

matplotlib.use("Agg")

from course.figures import plot_fit_histories, save_figure  # noqa: E402

HISTORY = {"loss": [0.5, 0.3, 0.2], "val_loss": [0.45, 0.35, 0.3],
           "accuracy": [0.91, 0.95, 0.97], "val_accuracy": [0.92, 0.94, 0.95]}


def test_each_model_gets_a_train_and_a_validation_curve_in_both_panels():
    fig = plot_fit_histories({"mlp": HISTORY, "cnn": HISTORY}, loss_name="cross-entropy")
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 4 and len(acc_ax.lines) == 4
    assert [line.get_label() for line in acc_ax.lines][:2] == ["mlp train", "mlp val"]
    assert loss_ax.get_ylabel() == "cross-entropy" and loss_ax.get_yscale() == "linear"


def test_log_loss_and_accuracy_floor_are_applied():
    fig = plot_fit_histories({"cnn": HISTORY}, log_loss=True, min_accuracy=0.9)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    bottom, top = acc_ax.get_ylim()
    assert bottom >= 0.9 and top == 1.0


def test_save_figure_writes_a_readable_png_and_no_temporary_file(tmp_path):
    fig = plot_fit_histories({"cnn": HISTORY})
    path = save_figure(fig, tmp_path / "sub" / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]
