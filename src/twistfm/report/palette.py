"""One categorical palette for every figure and the explorer, with the colour science that checks it.

Every colour is at least 3:1 in contrast against the white background (WCAG's ratio, so a
swatch or a small dot stays visible), and any two colours shown together are at least
``MIN_DELTA_E`` apart in CIEDE2000, so no two groups look alike. The first colours are
Okabe & Ito's blue, orange, green and pink, darkened where needed to reach 3:1; the rest
were picked from sRGB by farthest-point search under the same two rules. A label keeps its
colour everywhere: the clusters matched to it take that colour, and the classes or groups
found inside it take the colours nearest to it that keep every pair distinct
(:func:`nested_colours`).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["PALETTE", "NOISE_COLOR", "BACKGROUND", "MIN_DELTA_E", "MIN_CONTRAST", "color_of", "distinct_colours",
           "nested_colours", "contrast_ratio", "delta_e", "shades"]

#: The background every colour is shown on, and the two rules every palette keeps.
BACKGROUND, MIN_DELTA_E, MIN_CONTRAST = "#FFFFFF", 20.0, 3.0

PALETTE: tuple[str, ...] = (
    "#0072B2", "#B86E00", "#007A5A", "#B8478F", "#1800A8", "#680800", "#889800", "#FC0C2C",
    "#309CA8", "#9478FC", "#383400", "#442840", "#8C6058", "#004C54", "#686488", "#78704C",
)
#: Points that belong to no group (noise, not analysed): a neutral grey, drawn under the coloured points.
NOISE_COLOR = "#8F8F8F"


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(v)):02X}" for v in np.clip(rgb, 0, 255))


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return _linear(rgb) @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: str, b: str = BACKGROUND) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    la, lb = float(_luminance(_rgb(a))), float(_luminance(_rgb(b)))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours, shape (..., 3)."""
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = _linear(rgb) @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal's formulation), broadcasting over leading axes."""
    L1, a1, b1 = np.moveaxis(lab1, -1, 0)
    L2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    zero = c1p * c2p == 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(zero, 0, dh)
    d_l, d_c = L2 - L1, c2p - c1p
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_bar, c_bar_p = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) > 180, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2), h_sum / 2)
    h_bar = np.where(zero, h_sum, h_bar)
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_bar_p**7 / (c_bar_p**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_bar_p, 1 + 0.015 * c_bar_p * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def delta_e(a: str, b: str) -> float:
    """CIEDE2000 colour difference of two colours (about 2.3 is just noticeable; 20 is clearly different)."""
    return float(_ciede2000(_lab(_rgb(a)), _lab(_rgb(b))))


@functools.cache
def _candidates() -> tuple[np.ndarray, np.ndarray]:
    """sRGB colours (an 8-step grid) that keep 3:1 against the background, not too dark or grey to name; and their Lab."""
    g = np.arange(0, 256, 8, dtype=float)
    grid = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    lab = _lab(grid)
    lb = float(_luminance(_rgb(BACKGROUND)))
    contrast = (np.maximum(_luminance(grid), lb) + 0.05) / (np.minimum(_luminance(grid), lb) + 0.05)
    keep = (contrast >= MIN_CONTRAST + 0.2) & (np.hypot(lab[:, 1], lab[:, 2]) >= 20) & (lab[:, 0] >= 20)
    return grid[keep], lab[keep]


class _Picker:
    """Colours taken so far, and every candidate's distance to the nearest of them."""

    def __init__(self) -> None:
        self.colours: list[str] = []
        self.gap = np.full(len(_candidates()[1]), np.inf)

    def take(self, colour: str) -> str:
        self.colours.append(colour)
        self.gap = np.minimum(self.gap, _ciede2000(_candidates()[1], _lab(_rgb(colour))[None]))
        return colour

    def fits(self, colour: str) -> bool:
        return all(delta_e(colour, c) >= MIN_DELTA_E for c in self.colours)

    def pick(self, near: str | None) -> str:
        """The candidate farthest from every colour taken; with ``near``, the one nearest it among those far enough."""
        grid, lab = _candidates()
        far = self.gap >= MIN_DELTA_E
        if near is not None and far.any():
            to_near = _ciede2000(lab, _lab(_rgb(near))[None])
            return self.take(_hex(grid[int(np.argmin(np.where(far, to_near, np.inf)))]))
        return self.take(_hex(grid[int(np.argmax(self.gap))]))


def distinct_colours(n: int) -> list[str]:
    """``n`` colours: the palette's, then as many more as needed, each as far from the others as can be."""
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    picker = _Picker()
    for colour in PALETTE:
        picker.take(colour)
    while len(picker.colours) < n:
        picker.pick(None)
    return picker.colours


def nested_colours(parents: list[str]) -> list[str]:
    """A colour for each category lying inside a parent of colour ``parents[i]``: near it, distinct from the others.

    The first category of each parent keeps the parent's colour; each next one takes the
    colour nearest its parent's among those at least ``MIN_DELTA_E`` from every colour
    taken (or the farthest there is, where none is left).
    """
    picker = _Picker()
    colours: list[str | None] = [None] * len(parents)
    for i, parent in enumerate(parents):  # first each parent's own colour, so that none is crowded out
        if parent not in picker.colours and picker.fits(parent):
            colours[i] = picker.take(parent)
    for i, parent in enumerate(parents):
        if colours[i] is None:
            colours[i] = picker.pick(parent)
    return [c for c in colours if c is not None]


def color_of(index: int) -> str:
    """Colour of group ``index`` (negative indices, like DBSCAN noise, are grey)."""
    return NOISE_COLOR if index < 0 else PALETTE[index % len(PALETTE)]


def shades(colour: str, n: int) -> list[str]:
    """``n`` colours of ``colour``'s family, distinct from one another (the colour itself first; see nested_colours)."""
    return nested_colours([colour] * max(n, 0))
