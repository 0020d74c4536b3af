#!/usr/bin/python3
"""miou_ref.py - reference scores for tests/bats/miou.bats, computed the way
the Cityscapes evaluation script does, on Cityscapes label ids.

Writes tests/fixtures/miou/:
  pred.npy, gt.npy   u8 3x12x16 train-id maps (0..18, 255) with classes
                     missing on purpose: 16 (train) in neither, 9 (terrain)
                     only predicted, 14 (truck) only in the ground truth,
                     255 in both
  expected.tsv       class id, IoU in percent (%.4f, "nan" when undefined),
                     then miou, miou16, miou13

The scores come from the script's rules, restated here: map train ids to
label ids (255 to 0, "unlabeled", which is ignoreInEval); accumulate a
confusion matrix over label ids 0..33, rows ground truth, columns
prediction; for each evaluated class, TP = diagonal, FN = row sum - TP,
FP = column sum over the rows of evaluated classes only - TP; IoU =
TP/(TP+FP+FN), NaN if 0/0; a mean skips NaN.

  /usr/bin/python3 tests/ref/miou_ref.py
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "miou")
TRAIN_TO_ID = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
               31, 32, 33]
SYN16 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18]
SYN13 = [0, 1, 2, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18]


def to_ids(t):
    lut = np.zeros(256, dtype=np.int64)  # 255 and anything else: 0
    lut[:19] = TRAIN_TO_ID
    return lut[t]


def scores(pred, gt):
    conf = np.zeros((34, 34), dtype=np.int64)
    np.add.at(conf, (to_ids(gt).ravel(), to_ids(pred).ravel()), 1)
    evaluated = TRAIN_TO_ID
    iou = []
    for lid in evaluated:
        tp = conf[lid, lid]
        fn = conf[lid, :].sum() - tp
        rows = [l for l in evaluated if l != lid]
        fp = conf[rows, lid].sum()
        den = tp + fp + fn
        iou.append(float("nan") if den == 0 else tp / den)
    return iou


def mean(v):
    v = [x for x in v if not np.isnan(x)]
    return sum(v) / len(v) if v else float("nan")


def pct(x):
    return "nan" if np.isnan(x) else "%.4f" % (100 * x)


def write_scores(path, iou, extra=True):
    """expected.tsv: class id and IoU, then miou (and miou16, miou13)."""
    with open(path, "w") as f:
        for k, v in enumerate(iou):
            f.write("%d\t%s\n" % (k, pct(v)))
        f.write("miou\t%s\n" % pct(mean(iou)))
        if extra:
            f.write("miou16\t%s\n" % pct(mean([iou[k] for k in SYN16])))
            f.write("miou13\t%s\n" % pct(mean([iou[k] for k in SYN13])))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2021)
    shape = (3, 12, 16)
    gt = rng.integers(0, 19, size=shape)
    pred = np.where(rng.random(shape) < 0.6, gt, rng.integers(0, 19, shape))
    gt[gt == 16] = 0
    pred[pred == 16] = 1
    gt[gt == 9] = 2             # terrain: predicted only
    pred[pred == 14] = 3        # truck: ground truth only
    gt[rng.random(shape) < 0.1] = 255
    pred[rng.random(shape) < 0.05] = 255
    np.save(os.path.join(OUT, "gt.npy"), gt.astype(np.uint8))
    np.save(os.path.join(OUT, "pred.npy"), pred.astype(np.uint8))
    write_scores(os.path.join(OUT, "expected.tsv"), scores(pred, gt))


if __name__ == "__main__":
    main()
