"""WCAG 2 contrast ratios: between two colours, and between a figure's ink and its background."""

import numpy as np

SRGB_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
# The share of a figure's pixels taken as its ink: a tenth of a percent, because lettering scaled
# down to a phone's width blurs into its background everywhere but the cores of its strokes.
INK_SHARE = 0.001


def relative_luminance(rgb):
    """WCAG relative luminance of 0-255 sRGB colours (any leading shape, last axis RGB)."""
    channel = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(channel <= 0.04045, channel / 12.92, ((channel + 0.055) / 1.055) ** 2.4)
    return linear @ SRGB_WEIGHTS


def contrast_ratio(first, second):
    """WCAG contrast ratio, from 1 (no contrast) to 21 (black on white)."""
    a, b = relative_luminance(first), relative_luminance(second)
    return (np.maximum(a, b) + 0.05) / (np.minimum(a, b) + 0.05)


def ink_contrast(image):
    """Contrast between a picture's background, its commonest colour, and its ink.

    ``image`` is a PIL image. The ink is the most contrasting ``INK_SHARE`` of its
    pixels: the lines, marks and lettering that carry a figure's content. Returns the
    contrast that share of the pixels reaches.
    """
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    packed = pixels.astype(np.int64) @ np.array([65536, 256, 1])
    values, counts = np.unique(packed, return_counts=True)
    background = pixels[np.flatnonzero(packed == values[counts.argmax()])[0]]
    return float(np.quantile(contrast_ratio(pixels, background), 1.0 - INK_SHARE))
