#!/usr/bin/python3
"""augment_ref.py - reference outputs for tests/unit/test_augment.c.

Writes tests/fixtures/augment/*.npy:
  input.npy            f32 7x9x3, a random RGB image in [0, 1] (k/255)
  blur.npy             f32 7x9x3: Gaussian blur, kernel 5 (rows) x 3
                       (columns), sigma 0.8, reflect padding, computed with
                       torch.nn.functional.pad + conv2d (a 2-D kernel, not
                       the separable passes of lib/dacs/augment.c)
  jitterN.npy          f32 7x9x3: colour jitter with the parameters in
  jitterN_params.npy   f32 [b, c, s, h, order0..3] (0 brightness,
                       1 contrast, 2 saturation, 3 hue), computed in
                       float64 with numpy and Python's colorsys for HSV

Run with /usr/bin/python3 (Debian's python3-torch and python3-numpy):
  /usr/bin/python3 tests/ref/augment_ref.py
"""
import colorsys
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "augment")


def gauss(k, sigma):
    d = np.arange(k, dtype=np.float64) - (k - 1) // 2
    g = np.exp(-d * d / (2 * sigma * sigma))
    return g / g.sum()


def blur(img, kh, kw, sigma):
    k2 = np.outer(gauss(kh, sigma), gauss(kw, sigma))
    x = torch.from_numpy(img.transpose(2, 0, 1)[None].astype(np.float64))
    x = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode="reflect")
    w = torch.from_numpy(k2)[None, None].repeat(3, 1, 1, 1)
    y = F.conv2d(x, w, groups=3)
    return y[0].numpy().transpose(1, 2, 0)


def gray(x):
    return 0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def jitter(img, b, c, s, h, order):
    x = img.astype(np.float64)
    for op in order:
        if op == 0:
            x = np.clip(b * x, 0, 1)
        elif op == 1:
            m = gray(x).mean()
            x = np.clip(c * x + (1 - c) * m, 0, 1)
        elif op == 2:
            g = gray(x)[..., None]
            x = np.clip(s * x + (1 - s) * g, 0, 1)
        else:
            y = np.empty_like(x)
            for i in range(x.shape[0]):
                for j in range(x.shape[1]):
                    hh, ss, vv = colorsys.rgb_to_hsv(*x[i, j])
                    y[i, j] = colorsys.hsv_to_rgb((hh + h) % 1.0, ss, vv)
            x = y
    return x


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20200715)
    img = (rng.integers(0, 256, size=(7, 9, 3)) / 255.0).astype(np.float32)
    # a grey pixel and a saturated one, to cover the HSV edge cases
    img[0, 0] = [0.5, 0.5, 0.5]
    img[0, 1] = [1.0, 0.0, 0.0]
    np.save(os.path.join(OUT, "input.npy"), img)
    np.save(os.path.join(OUT, "blur.npy"),
            blur(img.astype(np.float64), 5, 3, 0.8).astype(np.float32))
    cases = [
        (1.2, 0.8, 1.25, 0.1, [3, 0, 2, 1]),
        (1.25, 0.75, 0.75, -0.2, [1, 3, 0, 2]),
        (0.8, 1.2, 0.0, 0.25, [0, 1, 2, 3]),
    ]
    for n, (b, c, s, h, order) in enumerate(cases, 1):
        out = jitter(img, b, c, s, h, order)
        np.save(os.path.join(OUT, "jitter%d.npy" % n), out.astype(np.float32))
        np.save(os.path.join(OUT, "jitter%d_params.npy" % n),
                np.array([b, c, s, h] + order, dtype=np.float32))


if __name__ == "__main__":
    main()
