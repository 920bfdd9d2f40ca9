"""Colour preservation (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer").

Two methods, both on (..., 3) RGB arrays in 0..255 (float; values are not clipped, so the
statistics below hold exactly):

* **Luminance-only transfer.** The network sees only luminance: content and style become grey
  images (Y of YIQ copied into R, G and B), the style's luminance is matched to the content's
  mean and standard deviation, and the result's Y is recombined with the content's
  chrominance (I, Q)::

      [Y I Q]^T = M [R G B]^T,   M = NTSC YIQ matrix (:data:`YIQ_FROM_RGB`)
      output    = M^-1 [Y(generated), I(content), Q(content)]^T

* **Colour histogram matching.** Before the run, the style image's colours are moved by an
  affine map x' = A (x - mu_S) + mu_C so that their mean and full 3x3 covariance equal the
  content's, with A = Sigma_C^(1/2) Sigma_S^(-1/2) (symmetric square roots, the "Image
  Analogies" variant of the paper's section 2.1). Matching the full covariance implies
  matching each channel's mean and standard deviation; it also keeps the correlations
  between channels (per-channel matching would not).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "PRESERVE_COLORS",
    "YIQ_FROM_RGB",
    "RGB_FROM_YIQ",
    "rgb_to_yiq",
    "yiq_to_rgb",
    "luminance_image",
    "match_luminance",
    "recombine_luminance",
    "match_color_histogram",
]

#: The colour preservation methods a run can ask for (``--preserve-colors``).
PRESERVE_COLORS = ("luminance", "histogram")

#: RGB -> YIQ (FCC NTSC), rows Y, I, Q. Y is the luminance; I and Q the chrominance.
YIQ_FROM_RGB = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)
#: YIQ -> RGB, the exact inverse of :data:`YIQ_FROM_RGB`.
RGB_FROM_YIQ = np.linalg.inv(YIQ_FROM_RGB)

# Added to the covariance's eigenvalues: a flat-coloured image has a singular covariance.
_EPS = 1e-5


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (..., 3) YIQ, float64."""
    return np.asarray(rgb, dtype=np.float64) @ YIQ_FROM_RGB.T


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """(..., 3) YIQ -> (..., 3) RGB, float64 (not clipped)."""
    return np.asarray(yiq, dtype=np.float64) @ RGB_FROM_YIQ.T


def luminance_image(rgb: np.ndarray) -> np.ndarray:
    """The grey image the network sees in luminance-only mode: Y copied to R, G and B.

    Args:
        rgb: (..., 3) RGB in 0..255.

    Returns:
        np.ndarray: float32, same shape, each pixel (Y, Y, Y).
    """
    y = rgb_to_yiq(rgb)[..., :1]
    return np.repeat(y, 3, axis=-1).astype(np.float32)


def match_luminance(style_grey: np.ndarray, content_grey: np.ndarray) -> np.ndarray:
    """Match a grey style image's luminance mean and standard deviation to the content's.

    L_S' = sigma_C / sigma_S * (L_S - mu_S) + mu_C (the paper's luminance matching).

    Args:
        style_grey, content_grey: (..., 3) grey images from :func:`luminance_image`.

    Returns:
        np.ndarray: float32 grey style image, shape of ``style_grey``.
    """
    s = np.asarray(style_grey, dtype=np.float64)
    c = np.asarray(content_grey, dtype=np.float64)
    scale = c[..., 0].std() / max(s[..., 0].std(), _EPS)
    return ((s - s[..., 0].mean()) * scale + c[..., 0].mean()).astype(np.float32)


def recombine_luminance(generated: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The generated image's luminance with the content image's chrominance.

    Args:
        generated: (..., 3) RGB in 0..255, the result of a luminance-only run.
        content: (..., 3) RGB in 0..255, the same shape.

    Returns:
        np.ndarray: float32 RGB (not clipped) whose Y is the generated image's and whose
        I and Q are the content's.
    """
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = rgb_to_yiq(generated)[..., 0]
    return yiq_to_rgb(yiq).astype(np.float32)


def _sqrt_and_inverse_sqrt(cov):
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, 0) + _EPS
    root = (vectors * np.sqrt(values)) @ vectors.T
    inverse_root = (vectors / np.sqrt(values)) @ vectors.T
    return root, inverse_root


def match_color_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Give the style image the content image's colour mean and covariance.

    x' = Sigma_C^(1/2) Sigma_S^(-1/2) (x - mu_S) + mu_C for every style pixel x (an RGB
    column), where mu and Sigma are the images' pixel mean (3,) and covariance (3, 3).
    Afterwards the style's mean and covariance equal the content's (up to the 1e-5 added to
    the eigenvalues), hence also each channel's mean and standard deviation.

    Args:
        style: (..., 3) RGB in 0..255.
        content: (..., 3) RGB in 0..255 (any size).

    Returns:
        np.ndarray: float32, shape of ``style``; not clipped to 0..255, so the statistics
        hold exactly (VGG takes any values).
    """
    s = np.asarray(style, dtype=np.float64).reshape(-1, 3)
    c = np.asarray(content, dtype=np.float64).reshape(-1, 3)
    mu_s, mu_c = s.mean(axis=0), c.mean(axis=0)
    root_c, _ = _sqrt_and_inverse_sqrt(np.cov(c, rowvar=False, bias=True))
    _, inverse_root_s = _sqrt_and_inverse_sqrt(np.cov(s, rowvar=False, bias=True))
    A = root_c @ inverse_root_s
    matched = (s - mu_s) @ A.T + mu_c
    return matched.reshape(np.shape(style)).astype(np.float32)
