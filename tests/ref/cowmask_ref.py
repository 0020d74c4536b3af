#!/usr/bin/python3
"""cowmask_ref.py - ClassMix's cow masks, by its own recipe, for
tests/unit/test_mix.c.

ClassMix (WilhelmT/ClassMix, utils/transformmasks.py, generate_cow_mask)
smooths normal noise with scipy.ndimage.gaussian_filter(N, sigma) and
thresholds it at erfinv(2p - 1) * sqrt(2) * std + mean.  This script does
exactly that (scipy, Debian's python3-scipy) on fixed noise and writes
tests/fixtures/cowmask/:

  noise.npy    f32 40x56     the noise (float32, used as float64 below)
  smooth.npy   f32 3x40x56   gaussian_filter of it, sigma 2.5, 8.3, 30
  mask.npy     u8  3x40x56   the masks: sigma 2.5 p 0.5, 8.3 p 0.3,
                             30 p 0.7 (radius 120, wider than the image:
                             the reflection wraps more than once)

  /usr/bin/python3 tests/ref/cowmask_ref.py
"""
import os

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import erfinv

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "cowmask")
CASES = [(2.5, 0.5), (8.3, 0.3), (30.0, 0.7)]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(8)
    noise = rng.normal(size=(40, 56)).astype(np.float32)
    n = noise.astype(np.float64)
    smooth, masks = [], []
    for sigma, p in CASES:
        ns = gaussian_filter(n, sigma)
        t = erfinv(p * 2 - 1) * (2 ** 0.5) * ns.std() + ns.mean()
        smooth.append(ns.astype(np.float32))
        masks.append((ns > t).astype(np.uint8))
    np.save(os.path.join(OUT, "noise.npy"), noise)
    np.save(os.path.join(OUT, "smooth.npy"), np.stack(smooth))
    np.save(os.path.join(OUT, "mask.npy"), np.stack(masks))


if __name__ == "__main__":
    main()
