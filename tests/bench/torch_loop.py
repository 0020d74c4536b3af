#!/usr/bin/python3
"""A whole DACS iteration in one PyTorch process, for tests/bench/loop: the
same network as dacs (deeplab-mini, tests/ref/dacsref.py), the same recipe
as the demo by default, the same threads.

One iteration: two source and two target PNGs decoded and cropped, the
teacher's forward pass (batch statistics, no gradient), pseudo-labels and
their weight, ClassMix of half the source classes onto the target images,
colour jitter and Gaussian blur of the mixed images, the student's two
passes (source CE, weighted mixed CE) and SGD step, and the EMA of the
teacher.  Prints "key value" lines: the median milliseconds of each part
and of the whole iteration.

  torch_loop.py SOURCE_ROOT TARGET_ROOT WIDTH CROP_W CROP_H ITERS WARMUP

SOURCE_ROOT is a gta5 tree, TARGET_ROOT a cityscapes one (synth-city).
"""
import glob
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'ref'))
import dacsref  # noqa: E402

src_root, tgt_root = sys.argv[1:3]
width, cw, ch, iters, warm = [int(a) for a in sys.argv[3:8]]
torch.set_num_threads(2)
torch.manual_seed(0)
rng = random.Random(0)

src_img = sorted(glob.glob(os.path.join(src_root, 'images', '*.png')))
src_lbl = [p.replace('/images/', '/labels/') for p in src_img]
tgt_img = sorted(glob.glob(os.path.join(tgt_root, 'leftImg8bit', 'train',
                                        '*', '*_leftImg8bit.png')))
# Cityscapes label ids -> train ids (GTA5 labels are Cityscapes ids)
LUT = np.full(256, 255, np.uint8)
for i, t in zip([7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27,
                 28, 31, 32, 33], range(19)):
    LUT[i] = t


def crop(a):
    h, w = a.shape[:2]
    y, x = rng.randrange(h - ch + 1), rng.randrange(w - cw + 1)
    return a[y:y + ch, x:x + cw]


def batch():
    si, sl, ti = [], [], []
    for _ in range(2):
        k = rng.randrange(len(src_img))
        im = np.asarray(Image.open(src_img[k]).convert('RGB'))
        lb = LUT[np.asarray(Image.open(src_lbl[k]))]
        both = crop(np.concatenate([im, lb[..., None]], 2))
        si.append(both[..., :3])
        sl.append(both[..., 3])
        ti.append(crop(np.asarray(Image.open(
            tgt_img[rng.randrange(len(tgt_img))]).convert('RGB'))))
    return (torch.from_numpy(np.stack(si)), torch.from_numpy(np.stack(sl)),
            torch.from_numpy(np.stack(ti)))


def augment(x):
    """x: (N,3,H,W) float in [0, 1]; jitter p 0.8, blur p 0.5, as DACS"""
    if rng.random() < 0.8:
        x = TF.adjust_brightness(x, rng.uniform(0.75, 1.25))
        x = TF.adjust_contrast(x, rng.uniform(0.75, 1.25))
        x = TF.adjust_saturation(x, rng.uniform(0.75, 1.25))
        x = TF.adjust_hue(x, rng.uniform(-0.25, 0.25))
    if rng.random() < 0.5:
        k = int(0.1 * x.shape[2]) // 2 * 2 + 1
        kw = int(0.1 * x.shape[3]) // 2 * 2 + 1
        x = TF.gaussian_blur(x, [kw, k], rng.uniform(0.15, 1.15))
    return x


student = dacsref.Net(width, 19)
teacher = dacsref.Net(width, 19)
teacher.load_state_dict(student.state_dict())
for p in teacher.parameters():
    p.requires_grad_(False)
student.train()
teacher.train()
opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9,
                      weight_decay=5e-4)
MEAN = torch.tensor(dacsref.MEAN).view(1, 3, 1, 1)
STD = torch.tensor(dacsref.STD).view(1, 3, 1, 1)
parts = ['data', 'teacher', 'mix', 'step', 'ema']
times = {k: [] for k in parts + ['iteration']}

for it in range(warm + iters):
    t = [time.perf_counter()]
    si, sl, ti = batch()
    t.append(time.perf_counter())
    with torch.no_grad():
        prob = F.softmax(teacher(dacsref.normalise(ti)), dim=1)
        conf, plabel = prob.max(1)
    t.append(time.perf_counter())
    lam = (conf >= 0.9).float().mean()
    xs = si.permute(0, 3, 1, 2).float() / 255
    xt = ti.permute(0, 3, 1, 2).float() / 255
    mixed, mlabel, mweight = [], [], []
    for i in range(2):
        cls = torch.unique(sl[i])
        cls = cls[cls != 255]
        pick = cls[torch.randperm(len(cls))[:(len(cls) + 1) // 2]]
        m = torch.isin(sl[i].long(), pick.long())
        mixed.append(torch.where(m, xs[i], xt[i]))
        mlabel.append(torch.where(m, sl[i].long(), plabel[i]))
        mweight.append(torch.where(m, torch.ones(()), lam))
    xm = augment(torch.stack(mixed))
    t.append(time.perf_counter())
    opt.zero_grad()
    ls = F.cross_entropy(student((xs - MEAN) / STD), sl.long(),
                         ignore_index=255)
    ls.backward()
    lm = (F.cross_entropy(student((xm - MEAN) / STD), torch.stack(mlabel),
                          ignore_index=255, reduction='none')
          * torch.stack(mweight)).mean()
    lm.backward()
    opt.step()
    t.append(time.perf_counter())
    alpha = min(1 - 1 / (it + 1), 0.99)
    with torch.no_grad():
        for tp, sp in zip(teacher.state_dict().values(),
                          student.state_dict().values()):
            if tp.dtype.is_floating_point:
                tp.mul_(alpha).add_(sp, alpha=1 - alpha)
    t.append(time.perf_counter())
    if it < warm:
        continue
    for k, name in enumerate(parts):
        times[name].append(t[k + 1] - t[k])
    times['iteration'].append(t[-1] - t[0])

for name in parts + ['iteration']:
    v = sorted(times[name])
    print('torch_%s_ms %.2f' % (name, v[len(v) // 2] * 1e3))
print('torch_version %s' % torch.__version__)
