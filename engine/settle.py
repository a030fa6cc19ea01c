"""Deciding where a tier's model passes disagree, instead of averaging them into grey.

The weighted mean of the passes (:func:`engine.refine.fuse`) is right more often than any one pass,
but where one pass says "subject" and another "background" it lands half-way, and whole regions of a
subject come out half-transparent ("ghosting", issue 18). Hardening that mean by a threshold only
trades the grey for errors, because the passes are often wrong exactly there. So the disputed region
is decided by evidence from the image: OpenCV's GrabCut, with colour models seeded from where every
pass agrees (sure subject, sure background), labels the pixels the passes dispute; only those pixels
that the mean left grey take its decision, so soft edges, fur and hair that the passes agree on keep
their alpha, and the guided upsampling that follows gives the decided regions edges from the photo.

A one-pass tier (basic) has nothing to dispute, but its one map can itself be grey over whole regions
where the model is unsure. Hardening that map traded ghosting for error here too (MSE ×1e3 32.9 → 35.7
at the mildest smoothstep, 0.1–0.9), and GrabCut alone on its grey pixels did worse (36.3). A second look
does better: when :func:`grey_share` says the map is ghosted, the tier runs its ``second_look`` pass (the
mirrored photo) and the two maps are settled as above; most photos never pay for it.

Measured on the 59 real photos of ``/work/shared/eval/real`` with each pass cached (docs/quality.md):
standard's ghosting 3.2 % → 0.8 % of clear pixels, IoU 0.921 → 0.923, MSE ×1e3 22.9 → 22.2; the four
industry passes 4.5 % → 0.3 %, IoU 0.940 → 0.944, MSE 15.7 → 16.9 (people, before the portrait step,
lose; objects and vehicles gain).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]

WORK_SIDE = 512
"""GrabCut runs on the photo at most this large: its colour models need no more, and it is O(pixels)."""
ITERATIONS = 3
AGREE_MARGIN = 0.25
"""Every pass above 0.5 + this is sure subject, every pass below 0.5 − this sure background. Set before
measuring (the middle of 0.5's half-range); 5-fold cross-validation over 0.15 / 0.25 / 0.35 on the 59
real photos is in docs/quality.md."""
GREY = (0.15, 0.85)
"""The mean's values that count as grey: the same band as the ghosting measure of ``make eval``."""
KMEANS_ATTEMPTS = 10
KMEANS_SAMPLES = 5000
"""The colour models' start (:func:`colour_model`). Chosen on the one photo that showed the problem (a plush
ostrich): among 1, 3, 5 and 10 attempts, 10 was the fewest whose cut did not depend on the random seed
(6 seeds); then checked on all 59 real photos (above). Clustering 5000 pixels instead of all costs ~5 ms."""
_COMPONENTS = 5
"""Gaussians per mixture: OpenCV's GrabCut has five."""
_MIN_SEEDS = 50
"""Fewer sure pixels of either side than this: nothing to learn colours from, the mean stays."""

SECOND_LOOK_GREY = 0.04
"""A one-pass map with more than this share of its pixels grey (:data:`GREY`) and far from its own edge
(:func:`grey_share`) is ghosted: the tier takes its second look and settles the two maps. Chosen by 5-fold
cross-validation over the 59 real photos, shuffled 10 times: each fold took the largest threshold that
still flagged every one of its training photos with ghosting over 5 %; 48 of the 50 folds took 0.04, two
0.05. Out of fold (basic): IoU 0.892 → 0.906, MSE ×1e3 32.9 → 28.3, ghosting 2.3 % → 1.4 %, photos over
5 % 7 → 5 of 59, a second look on 7 of the 59 photos (docs/performance.md)."""
FAR_PX = 3
"""Far from the map's own 0.5 contour, in the map's pixels (320² for U²-Net-p: ~7 px of an 800 px
photo, near the ghosting measure's 10 px). Set before measuring."""


def grey_share(mask: F32) -> float:
    """The share of ``mask``'s pixels that are grey and more than :data:`FAR_PX` from its 0.5 contour:
    ghosting as the model's own map shows it, without the truth (edges may rightly be soft; regions may not)."""
    subject = (mask >= 0.5).astype(np.uint8)
    inside = cv2.distanceTransform(subject, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - subject, cv2.DIST_L2, 3)
    far = np.where(subject == 1, inside, outside) > FAR_PX
    grey = (mask >= GREY[0]) & (mask <= GREY[1])
    return float((grey & far).mean())


def colour_model(pixels: U8) -> NDArray[np.float64]:
    """GrabCut's Gaussian mixture of ``pixels`` (N×3, BGR), in OpenCV's layout: the components' weights,
    means and covariances, the best of :data:`KMEANS_ATTEMPTS` k-means clusterings of at most
    :data:`KMEANS_SAMPLES` of them.

    OpenCV's own start (``GC_INIT_WITH_MASK``) clusters once from a random start, and where the disputed
    region's colours are ambiguous the cut followed that start: on the 59 real photos, 7 seeds of OpenCV's
    generator moved industry's mean MSE ×1e3 between 10.3 and 11.6 (a plush ostrich 1.5 or 68), and 10
    photos × pass sets changed by more than 2. With the best of 10 clusterings: 10.43–10.44, 2 photos.
    GrabCut then learns the mixtures again from every pixel in each iteration; only the start is ours."""
    model = np.zeros((1, _COMPONENTS * (1 + 3 + 9)), np.float64)
    samples = pixels.reshape(-1, 3)[:: max(1, -(-len(pixels) // KMEANS_SAMPLES))]
    components = min(_COMPONENTS, len(samples))
    cv2.setRNGSeed(0)  # the same photo gives the same cut, whatever the thread cut before
    _, found, _ = cv2.kmeans(
        samples.astype(np.float32),
        components,
        np.zeros((len(samples), 1), np.int32),  # an output only: the starts are k-means++
        (cv2.TERM_CRITERIA_MAX_ITER, 10, 0.0),  # OpenCV's GrabCut clusters with these
        KMEANS_ATTEMPTS,
        cv2.KMEANS_PP_CENTERS,
    )
    labels = np.asarray(found).ravel()
    values = samples.astype(np.float64)
    weights, means, covariances = np.split(model[0], [_COMPONENTS, 4 * _COMPONENTS])
    for c in range(components):
        member = values[labels == c]
        if not len(member):
            continue
        mean = member.mean(axis=0)
        covariance = member.T @ member / len(member) - np.outer(mean, mean)
        if np.linalg.det(covariance) <= np.finfo(np.float64).eps:
            covariance += np.eye(3) * 0.01  # OpenCV's fix for a flat component
        weights[c] = len(member) / len(values)
        means[3 * c : 3 * c + 3] = mean
        covariances[9 * c : 9 * c + 9] = covariance.ravel()
    return model


def settle(rgb: U8, maps: list[tuple[F32, float]]) -> F32:
    """The passes' weighted mean at up to :data:`WORK_SIDE` px (the photo's aspect), with the grey pixels
    the passes dispute decided by GrabCut. ``rgb`` is the full photo; ``maps`` the passes' 0..1 maps."""
    height, width = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = [
        (np.asarray(cv2.resize(m, size, interpolation=cv2.INTER_LINEAR), np.float32), np.float32(w)) for m, w in maps
    ]
    mean = np.asarray(sum(w * m for m, w in resized) / np.float32(sum(w for _, w in resized)), np.float32)
    lowest = np.minimum.reduce([m for m, _ in resized])
    highest = np.maximum.reduce([m for m, _ in resized])
    sure_subject = lowest >= 0.5 + AGREE_MARGIN
    sure_background = highest <= 0.5 - AGREE_MARGIN
    disputed = (lowest < 0.5) & (highest >= 0.5) & (mean >= GREY[0]) & (mean <= GREY[1])
    if not disputed.any() or sure_subject.sum() < _MIN_SEEDS or sure_background.sum() < _MIN_SEEDS:
        return mean
    labels = np.where(mean >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[sure_subject] = cv2.GC_FGD
    labels[sure_background] = cv2.GC_BGD
    small = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    subject = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    try:
        background_model = colour_model(small[~subject])
        subject_model = colour_model(small[subject])
        cv2.grabCut(
            small,
            labels,
            (0, 0, 0, 0),  # unused: the labels and the colour models say everything
            background_model,
            subject_model,
            ITERATIONS,
            cv2.GC_EVAL,  # start from the models given instead of OpenCV's own one-shot k-means
        )
    except cv2.error:  # a degenerate colour model (one flat colour): keep the mean
        return mean
    decided = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    mean[disputed] = decided[disputed].astype(np.float32)
    return mean
