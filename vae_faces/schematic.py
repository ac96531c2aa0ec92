"""A block diagram of the debiasing VAE (DB-VAE, Amini et al. 2019), drawn with matplotlib.

Same names and notation as ``vae_faces.model``: the encoder maps an image x to a face logit
y_hat, latent means mu and log-variances log sigma^2; z = mu + sigma * eps feeds the decoder;
the loss is L = L_y + [y = 1] * (c L_KL + L_x). The dashed loop shows where adaptive resampling
(``vae_faces.resampling``) enters: it reads mu and reweights the training data.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

# (face colour, edge colour) per role: one for the networks, one for the losses, one for the
# resampler, and a neutral grey for data and intermediate values.
NETWORK = ("#dbe7f5", "#3a6ea5")
LOSS = ("#fbe6d4", "#c0622b")
RESAMPLER = ("#e0f0dc", "#3f8a4a")
VALUE = ("#f3f3f3", "#6b6b6b")

# Drawing units: the axes spans the figure and one unit is 0.1 inch at the default size.
WIDTH, HEIGHT = 110, 45


def _box(ax, x, y, w, h, text, colours, fontsize=9, detail=None):
    """A rounded box, (x, y) its lower-left corner: ``text`` centred, or in bold above a
    smaller ``detail`` when one is given."""
    face, edge = colours
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.8",
                                facecolor=face, edgecolor=edge, linewidth=1.2))
    centre = (x + w / 2, y + h / 2)
    if detail is None:
        ax.text(*centre, text, ha="center", va="center", fontsize=fontsize, linespacing=1.4)
        return
    ax.text(centre[0], centre[1] + 1, text, ha="center", va="bottom", fontsize=fontsize + 1,
            weight="bold")
    ax.text(centre[0], centre[1], detail, ha="center", va="top", fontsize=fontsize - 0.5,
            linespacing=1.3)


def _arrow(ax, start, end, colour="#444444", dashed=False, connection="arc3"):
    """An arrow from ``start`` to ``end``; ``connection`` bends it (see ConnectionStyle)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11,
                                 color=colour, linewidth=1.2, linestyle="--" if dashed else "-",
                                 connectionstyle=connection, shrinkA=0, shrinkB=0))


def _check_image(image) -> np.ndarray:
    """``image`` as an array, if it is H x W x 3 (RGB)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"example_image must be an RGB array of shape (H, W, 3), "
                         f"got shape {image.shape}")
    return image


def draw_dbvae_schematic(example_image=None, figsize=(11, 4.5)) -> Figure:
    """The DB-VAE as a block diagram: networks, loss terms and the resampling loop.

    ``example_image`` (H x W x 3, uint8 or floats in [0, 1]) is shown as the input x in an inset
    axes; without it the input is a box labelled "image x". Returns the matplotlib Figure.
    """
    image = None if example_image is None else _check_image(example_image)
    fig = plt.figure(figsize=figsize, facecolor="white")
    ax = fig.add_axes((0, 0, 1, 1))
    # The drawing occupies y = 1.5 to 41; centre it vertically.
    ax.set(xlim=(0, WIDTH), ylim=(-1.25, HEIGHT - 1.25), aspect="equal")
    ax.axis("off")

    # Data: the training set, one batch image x drawn from it.
    _box(ax, 1, 2, 11, 8, "training\ndata", VALUE)
    if image is None:
        _box(ax, 2, 20.5, 9, 9, "image\n$x$", VALUE)
    else:
        inset = ax.inset_axes((2, 20.5, 9, 9), transform=ax.transData)
        inset.imshow(image)
        inset.set_xticks([])
        inset.set_yticks([])
        ax.text(6.5, 31, "image $x$", ha="center", va="bottom", fontsize=9)
    _arrow(ax, (6.5, 10), (6.5, 20.5))
    ax.text(7.5, 15.2, "batch", fontsize=8, va="center")
    _arrow(ax, (11, 25), (15, 25))

    # Encoder with its three heads; the VAE part uses mu and log sigma^2.
    _box(ax, 15, 16, 13, 25, "encoder", NETWORK, detail="3 conv\n(stride 2)\n+ dense")
    heads = {38.5: r"face logit $\hat{y}$", 28.5: r"$\log\,\sigma^2$", 19.5: r"mean $\mu$"}
    for y, label in heads.items():
        _box(ax, 32, y - 2.5, 11, 5, label, VALUE)
        _arrow(ax, (28, y), (32, y))

    # Reparameterization: eps gets its own box, fed in from the side, because it is an input
    # that does not depend on the weights; gradients flow through mu and sigma only.
    _box(ax, 47.5, 20, 15, 10, "reparameterize\n" r"$z = \mu + \sigma \odot \epsilon$", VALUE)
    _arrow(ax, (43, 28.5), (47.5, 27))
    _arrow(ax, (43, 19.5), (47.5, 23))
    _box(ax, 49.5, 32.5, 11, 4, r"$\epsilon \sim \mathcal{N}(0, I)$", VALUE, fontsize=8.5)
    _arrow(ax, (55, 32.5), (55, 30))

    _box(ax, 66, 19, 12, 12, "decoder", NETWORK, detail="dense +\n3 transposed\nconv")
    _arrow(ax, (62.5, 25), (66, 25))
    _box(ax, 81, 21, 12, 8, "reconstruction\n" r"$\hat{x}$", VALUE)
    _arrow(ax, (78, 25), (81, 25))

    # Loss terms beside the arrows that produce them; the VAE terms pass the face-only gate.
    loss_colour = LOSS[1]
    _box(ax, 72, 2, 37, 7,
         r"$\mathcal{L} = \mathcal{L}_y + [y = 1]\,(c\,\mathcal{L}_{\mathrm{KL}} + \mathcal{L}_x)$",
         LOSS, fontsize=10.5)
    _arrow(ax, (43, 38.5), (104, 9), loss_colour, connection="angle,angleA=0,angleB=90,rad=0")
    ax.text(66, 39.3, r"$\mathcal{L}_y(y, \hat{y})$: binary cross-entropy", fontsize=9,
            color=loss_colour, va="bottom")
    gate = (87, 14)
    ax.add_patch(Circle(gate, 1.4, facecolor="white", edgecolor=loss_colour, linewidth=1.4))
    ax.text(*gate, r"$\times$", ha="center", va="center", fontsize=9, color=loss_colour)
    ax.text(89, 14, r"$[y = 1]$: only" "\nfor faces", fontsize=8.5, color=loss_colour,
            va="center", linespacing=1.3)
    _arrow(ax, (55, 20), (gate[0] - 1.4, gate[1]), loss_colour,
           connection="angle,angleA=-90,angleB=180,rad=0")
    ax.text(57, 14.7, r"$c\,\mathcal{L}_{\mathrm{KL}}(\mu, \sigma)$", fontsize=9,
            color=loss_colour, va="bottom")
    _arrow(ax, (87, 21), (87, 15.4), loss_colour)
    ax.text(88, 18.2, r"$\mathcal{L}_x = \Vert x - \hat{x} \Vert_1$", fontsize=9,
            color=loss_colour, va="center")
    _arrow(ax, (87, 12.6), (87, 9), loss_colour)

    # The resampling loop: mu's histograms decide how often each face is drawn next epoch.
    resampler_colour = RESAMPLER[1]
    _box(ax, 16, 1.5, 33, 9.5, "resampler", RESAMPLER, detail=(
        r"histogram of $\mu_j$ per latent dimension $j$" "\n"
        r"draw rare faces more often (weights $\propto$ 1 / density)"))
    _arrow(ax, (37.5, 17), (37.5, 11), resampler_colour, dashed=True)
    ax.text(38.5, 14, r"$\mu$ of the training faces", fontsize=8, color=resampler_colour,
            va="center")
    _arrow(ax, (16, 6), (12, 6), resampler_colour, dashed=True)
    return fig
