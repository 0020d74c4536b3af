#!/usr/bin/python3
"""fullres_ref.py - the full-resolution evaluation protocol, by PyTorch and
the Cityscapes evaluation rules, for tests/unit/test_fullres.c.

DAFormer and MIC (mmsegmentation) resize the network's logits to the
full-size label with F.interpolate(mode='bilinear', align_corners=False)
before the arg-max; the Cityscapes scripts then score the full-size
prediction against the full-size label.  This script does both on small
random data and writes tests/fixtures/fullres/:

  prob.npy      f32 2x19x6x10   softmax of the logits (what seg-infer has)
  up.npy        f32 2x19x15x25  softmax of the resized logits
  pred.npy      u8  2x15x25     their arg-max (train ids)
  gt.npy        u8  2x15x25     full-size ground truth, train ids and 255
  expected.tsv  class id and IoU in percent (%.4f, "nan" when undefined),
                then miou: the scores of pred against gt by the rules of
                cityscapesScripts (tests/ref/miou_ref.py restates them)

The size ratio 2.5 is not an integer, so the half-pixel sampling is
tested, not only its easy case.

  /usr/bin/python3 tests/ref/fullres_ref.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from miou_ref import scores, write_scores  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fullres")


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(2023)
    n, c, h, w, H, W = 2, 19, 6, 10, 15, 25
    logits = 4 * torch.randn(n, c, h, w, generator=g, dtype=torch.float32)
    prob = torch.softmax(logits, dim=1)
    up = F.interpolate(logits, size=(H, W), mode="bilinear",
                       align_corners=False)
    pred = up.argmax(dim=1).to(torch.uint8)
    # the ground truth: the prediction, mostly, with classes missing and
    # ignore pixels, as tests/ref/miou_ref.py makes them
    rng = np.random.default_rng(7)
    p = pred.numpy()
    gt = np.where(rng.random(p.shape) < 0.7, p, rng.integers(0, 19, p.shape))
    gt[gt == 16] = 0
    gt[rng.random(p.shape) < 0.1] = 255
    np.save(os.path.join(OUT, "prob.npy"), prob.numpy())
    np.save(os.path.join(OUT, "up.npy"), torch.softmax(up, dim=1).numpy())
    np.save(os.path.join(OUT, "pred.npy"), p)
    np.save(os.path.join(OUT, "gt.npy"), gt.astype(np.uint8))
    write_scores(os.path.join(OUT, "expected.tsv"), scores(p, gt),
                 extra=False)


if __name__ == "__main__":
    main()
