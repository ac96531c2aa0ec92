"""The DB-VAE block diagram: its labels, the optional example image, and bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from vae_faces.schematic import draw_dbvae_schematic  # noqa: E402


def all_text(fig) -> str:
    """Every Text artist's string in the figure, joined."""
    return "\n".join(text.get_text() for text in fig.findobj(Text))


def test_the_diagram_names_the_parts_and_the_loss_terms():
    fig = draw_dbvae_schematic()
    try:
        assert isinstance(fig, Figure)
        text = all_text(fig)
        for label in ("encoder", "decoder", r"z = \mu + \sigma", r"\epsilon \sim",
                      r"\mathcal{L}_y(y, \hat{y})", "binary cross-entropy",
                      r"\mathcal{L}_{\mathrm{KL}}(\mu, \sigma)", r"\Vert x - \hat{x} \Vert_1",
                      "[y = 1]", "only", "resampl", "1 / density"):
            assert label in text, label
        assert not any(fig.findobj(AxesImage))  # no image given: a plain box for x
    finally:
        plt.close(fig)


@pytest.mark.parametrize("image", [np.zeros((32, 24, 3), np.uint8), np.full((16, 16, 3), 0.5)])
def test_an_example_image_is_shown_in_its_own_axes(image):
    fig = draw_dbvae_schematic(example_image=image)
    try:
        shown = [artist for artist in fig.findobj(AxesImage)
                 if artist.get_array().shape == image.shape]
        assert len(shown) == 1
        assert shown[0].axes is not fig.axes[0]  # an inset, not the diagram's own axes
    finally:
        plt.close(fig)


@pytest.mark.parametrize("shape", [(32, 32), (32, 32, 4), (3, 32, 32, 3)])
def test_a_wrong_shaped_example_image_is_refused(shape):
    before = plt.get_fignums()
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        draw_dbvae_schematic(example_image=np.zeros(shape))
    assert plt.get_fignums() == before  # checked before any figure was opened
