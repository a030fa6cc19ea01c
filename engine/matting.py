"""Closed-form matting (Levin, Lischinski, Weiss 2008) solved only on the trimap's unknown band.

The matting Laplacian is built only for the 3×3 windows that touch an unknown pixel, and the known pixels
are eliminated, so the sparse system has one row per unknown pixel (tens of thousands, not millions):
``L_UU α_U = −L_UK α_K``, solved by preconditioned conjugate gradients from the coarse alpha.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

F32 = NDArray[np.float32]
Bool = NDArray[np.bool_]


def trimap_from_alpha(alpha: F32, band: int, low: float = 0.05, high: float = 0.95) -> tuple[Bool, Bool]:
    """(known foreground, unknown): sure regions shrunk by ``band`` px; the rest is unknown.

    A wide band gives the solver room for hair but invites halos on plain edges; 3–6 px at ~1 MP works.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    fg = cv2.erode((alpha >= high).astype(np.uint8), kernel).astype(bool)
    bg = cv2.erode((alpha <= low).astype(np.uint8), kernel).astype(bool)
    return fg, ~(fg | bg)


def closed_form_band(
    image: F32, coarse: F32, known_fg: Bool, unknown: Bool, *, eps: float = 1e-6, maxiter: int = 200
) -> F32:
    """Alpha with the unknown pixels solved; known pixels are 1 (``known_fg``) or 0. ``image`` is 0..1 RGB."""
    h, w = unknown.shape
    alpha = np.where(known_fg, 1.0, 0.0).astype(np.float32)
    alpha[unknown] = coarse[unknown]
    unknown = unknown.copy()
    unknown[[0, -1], :] = False  # border pixels keep the coarse alpha (no full window around them)
    unknown[:, [0, -1]] = False
    if not unknown.any():
        return alpha

    centres_mask = cv2.dilate(unknown.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    centres_mask[[0, -1], :] = False
    centres_mask[:, [0, -1]] = False
    ys, xs = np.nonzero(centres_mask)
    offsets = np.array([dy * w + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=np.int64)
    idx = (ys.astype(np.int64) * w + xs)[:, None] + offsets[None, :]  # N×9 flat pixel indices

    win = image.reshape(-1, 3)[idx].astype(np.float64)  # N×9×3
    mu = win.mean(axis=1)
    cov = np.einsum("nki,nkj->nij", win, win) / 9.0 - mu[:, :, None] * mu[:, None, :]
    cov += (eps / 9.0) * np.eye(3)
    inv = np.linalg.inv(cov)
    centred = win - mu[:, None, :]
    vals = (1.0 + np.einsum("nki,nij,nlj->nkl", centred, inv, centred)) / 9.0  # N×9×9 affinities
    lap = np.eye(9)[None] - vals

    n_unknown = int(unknown.sum())
    pos = np.full(h * w, -1, dtype=np.int64)
    pos[np.flatnonzero(unknown)] = np.arange(n_unknown)
    rows = np.broadcast_to(idx[:, :, None], lap.shape).ravel()
    cols = np.broadcast_to(idx[:, None, :], lap.shape).ravel()
    values = lap.ravel()
    row_u = pos[rows]
    keep = row_u >= 0
    row_u, cols, values = row_u[keep], cols[keep], values[keep]
    col_u = pos[cols]
    in_u = col_u >= 0
    system = sp.csr_matrix((values[in_u], (row_u[in_u], col_u[in_u])), shape=(n_unknown, n_unknown))
    flat_alpha = alpha.ravel().astype(np.float64)
    rhs = -np.bincount(row_u[~in_u], weights=values[~in_u] * flat_alpha[cols[~in_u]], minlength=n_unknown)

    diag = system.diagonal()
    precond = sp.diags(1.0 / np.maximum(diag, 1e-12))
    x0 = coarse[unknown].astype(np.float64)
    solution, _info = spla.cg(system, rhs, x0=x0, rtol=1e-6, maxiter=maxiter, M=precond)
    alpha[unknown] = np.clip(solution, 0.0, 1.0)
    return alpha
