#!/usr/bin/python3
"""micmask_ref.py - MIC's block masks by PyTorch, for tests/unit/test_mic.c.

MIC (lhoyer/MIC, masking_transforms.py) draws a grid of
round(H / block) x round(W / block) uniforms, keeps the cells above the
mask ratio, and resizes the grid to the image with mmseg's resize, i.e.
F.interpolate(mode='nearest').  This script does the same for a few image
sizes (blocks that divide the sides, that do not, and rounding half to
even) and writes tests/fixtures/micmask/:

  cases.txt    one line per case: K H W GH GW RATIO
  uK.npy       f32 GHxGW  the uniforms of case K
  maskK.npy    u8  HxW    the mask (ratio 0.4, so that the small grids
                          hold both kinds of cell)

  /usr/bin/python3 tests/ref/micmask_ref.py
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "micmask")
# (H, W, block): divisible; 3.125 and 2.41 cells; 1.5 and 2.5 (half to
# even: 2 and 2); 2.125 and 2.875; a grid of exactly half the image
RATIO = 0.4
CASES = [(64, 96, 32), (100, 77, 32), (48, 80, 32), (17, 23, 8), (8, 6, 2)]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(1)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        for k, (h, w, b) in enumerate(CASES):
            gh, gw = round(h / b), round(w / b)
            u = torch.rand(1, 1, gh, gw, dtype=torch.float32)
            m = (u > RATIO).float()
            m = F.interpolate(m, size=(h, w), mode="nearest")
            np.save(os.path.join(OUT, "u%d.npy" % k), u[0, 0].numpy())
            np.save(os.path.join(OUT, "mask%d.npy" % k),
                    m[0, 0].numpy().astype(np.uint8))
            f.write("%d %d %d %d %d %g\n" % (k, h, w, gh, gw, RATIO))


if __name__ == "__main__":
    main()
