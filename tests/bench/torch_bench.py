#!/usr/bin/python3
"""The same network's training step and inference in PyTorch, for
tests/bench/run, with 2 threads.

    torch_bench.py NET N H W REPS

NET: mini (deeplab-mini, width 32, 19 classes) or r101 (DeepLabv2-R101,
caffe, frozen BN, two heads summed: the DACS model).  Prints "key value"
lines: torch_step_ms, torch_infer_ms (medians of REPS after one warm-up),
torch_version.  REPS 0: one training step and nothing else (for a peak-RSS
measurement).

The step is the DACS one: the source forward and loss, the mixed forward
and loss, one backward of their sum (both graphs alive, as the DACS code
keeps them), one SGD step of the trained parameters.  Inference: each
image alone, eval mode, softmax of the upsampled logits.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'ref'))
import dacsref  # noqa: E402

name = sys.argv[1] if len(sys.argv) > 1 else 'mini'
n, H, W, reps = [int(a) for a in sys.argv[2:6]] if len(sys.argv) > 5 \
    else (2, 256, 512, 5)
torch.set_num_threads(2)
torch.manual_seed(0)
if name == 'r101':
    net = dacsref.DeepLabV2(101, classes=19)
    norm = {'mean': dacsref.CAFFE_MEAN, 'std': dacsref.CAFFE_STD,
            'bgr': True}
    lr = 2.5e-4
else:
    net = dacsref.Net(32, 19)
    norm = {}
    lr = 0.01
opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad],
                      lr=lr, momentum=0.9, weight_decay=5e-4)
img = torch.randint(0, 256, (n, H, W, 3), dtype=torch.uint8)
lab = torch.randint(0, 19, (n, H, W))
wt = torch.full((n, H, W), 0.5)


def step():
    opt.zero_grad()
    x = dacsref.normalise(img, **norm)
    ls = F.cross_entropy(net(x), lab, ignore_index=255)
    lm = (F.cross_entropy(net(x), lab, ignore_index=255, reduction='none')
          * wt).mean()
    (ls + lm).backward()
    opt.step()


def infer():
    with torch.no_grad():
        for i in range(n):
            F.softmax(net(dacsref.normalise(img[i:i + 1], **norm)), dim=1)


def med(fn):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1e3


net.train()
if reps == 0:
    step()
    sys.exit(0)
print('torch_step_ms %.1f' % med(step), flush=True)
net.eval()
print('torch_infer_ms %.1f' % med(infer))
print('torch_version %s' % torch.__version__)
