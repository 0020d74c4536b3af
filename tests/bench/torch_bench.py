#!/usr/bin/python3
"""The same network's training step and inference in PyTorch, for
tests/bench/run: 2 threads, B=2, 256x512 by default.  Prints "key value"
lines: torch_step_ms, torch_infer_ms (medians)."""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'ref'))
import dacsref  # noqa: E402

n, H, W, reps = [int(a) for a in sys.argv[1:5]] if len(sys.argv) > 4 \
    else (2, 256, 512, 5)
torch.set_num_threads(2)
torch.manual_seed(0)
net = dacsref.Net(32, 19)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9,
                      weight_decay=5e-4)
img = torch.randint(0, 256, (n, H, W, 3), dtype=torch.uint8)
lab = torch.randint(0, 19, (n, H, W))
wt = torch.full((n, H, W), 0.5)


def step():
    opt.zero_grad()
    x = dacsref.normalise(img)
    ls = F.cross_entropy(net(x), lab, ignore_index=255)
    lm = (F.cross_entropy(net(x), lab, ignore_index=255, reduction='none')
          * wt).mean()
    (ls + lm).backward()
    opt.step()


def infer():
    with torch.no_grad():
        for i in range(n):
            F.softmax(net(dacsref.normalise(img[i:i + 1])), dim=1)


def med(fn):
    net.train()
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1e3


print('torch_step_ms %.1f' % med(step))
net.eval()
infer()
ts = []
for _ in range(reps):
    t0 = time.perf_counter()
    infer()
    ts.append(time.perf_counter() - t0)
ts.sort()
print('torch_infer_ms %.1f' % (ts[len(ts) // 2] * 1e3))
print('torch_version %s' % torch.__version__)
