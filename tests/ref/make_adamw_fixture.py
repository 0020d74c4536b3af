#!/usr/bin/python3
"""Write tests/fixtures/adamw/w2.tns for tests/unit/test_optim.c: three
training steps of deeplab-mini (width 2, 5 classes, 2 images of 24x32)
with AdamW, linear warmup and poly decay, computed by PyTorch in float64
from float32 parameters.

The optimiser is torch.optim.AdamW (PyTorch 1.13) with DAFormer's
parameter groups: the head at 10x the rate, no weight decay on batch-norm
weights and biases.  The rate of step t follows mmcv's LrUpdaterHook
(policy 'poly', warmup 'linear'):
    lr(t) = lr0 (1 - t/T)^power * (1 - (1 - t/N)(1 - ratio))   for t < N
with the last factor 1 from t = N.  The settings are DAFormer's but for
lr0 (1e-3, so that three steps move the weights well past float32's
resolution), the warmup (N = 2 of T = 10 steps, ratio 0.01, so that step
0 runs in warmup, step 1 at its end and step 2 after it) and the power.
Run from the top of the tree:
    /usr/bin/python3 tests/ref/make_adamw_fixture.py

Frames (one segment):
  the checkpoint before the steps: meta.arch, meta.iter (0), parameters,
      running statistics, no optimiser state
  bK.src.image bK.src.label bK.mix.image bK.mix.label bK.mix.weight
      the batch of step K = 0, 1, 2
  ref.hyper   f32 [lr0, T, power, warmup N, ratio, beta1, beta2, eps,
                   weight decay, head mult]
  ref.lr      f32 (3) the body's rate of each step
  ref.loss    f32 (3, 2) loss_src, loss_mix of each step
  ref.after.NAME          every parameter and running statistic after
                          the three steps
  ref.after.opt.NAME      exp_avg of every trained parameter after them
  ref.after.opt.exp_avg_sq.NAME   exp_avg_sq likewise
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dacsref  # noqa: E402

OUT = 'tests/fixtures/adamw/w2.tns'
C, N, H, W, STEPS = 5, 2, 24, 32, 3
LR0, T, POWER, WARMUP, RATIO = 1e-3, 10, 1.0, 2, 0.01
BETAS, EPS, WD, HEAD = (0.9, 0.999), 1e-8, 0.01, 10.0


def lr_at(t):
    lr = LR0 * (1 - t / T) ** POWER
    if t < WARMUP:
        lr *= 1 - (1 - t / WARMUP) * (1 - RATIO)
    return lr


def main():
    g = torch.Generator().manual_seed(20261201)

    def urand(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    net = dacsref.Net(2, C)
    dacsref.randomise(net, g, lambda name: name.startswith('head'))
    net = net.float().double()

    w = dacsref.TnsWriter(OUT)
    w.text('meta.arch', 'net=deeplab-mini\nversion=1\nwidth=2\nclasses=%d\n'
           'mean=0.485,0.456,0.406\nstd=0.229,0.224,0.225\n' % C)
    w.frame('meta.iter', torch.tensor(0, dtype=torch.int32))
    for k, v in net.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            w.frame(k, v.float())

    params = dict(net.named_parameters())
    head = [p for k, p in params.items() if k.startswith('head')]
    norm = [p for k, p in params.items() if '.bn' in k]
    body = [p for k, p in params.items()
            if not k.startswith('head') and '.bn' not in k]
    groups = [{'params': body, 'mult': 1.0, 'weight_decay': WD},
              {'params': norm, 'mult': 1.0, 'weight_decay': 0.0},
              {'params': head, 'mult': HEAD, 'weight_decay': WD}]
    opt = torch.optim.AdamW(groups, lr=LR0, betas=BETAS, eps=EPS,
                            weight_decay=WD)

    def labels():
        y = torch.randint(0, C, (N, H, W), generator=g, dtype=torch.int64)
        y[torch.rand((N, H, W), generator=g) < 0.15] = 255
        return y

    lrs, losses = [], []
    net.train()
    for step in range(STEPS):
        src_img = torch.randint(0, 256, (N, H, W, 3), generator=g,
                                dtype=torch.uint8)
        mix_img = torch.randint(0, 256, (N, H, W, 3), generator=g,
                                dtype=torch.uint8)
        src_lab, mix_lab = labels(), labels()
        mix_w = urand((N, H, W), 0, 1).float()
        b = 'b%d.' % step
        w.frame(b + 'src.image', src_img)
        w.frame(b + 'src.label', src_lab.to(torch.uint8))
        w.frame(b + 'mix.image', mix_img)
        w.frame(b + 'mix.label', mix_lab.to(torch.uint8))
        w.frame(b + 'mix.weight', mix_w)
        opt.zero_grad()
        loss_s = F.cross_entropy(net(dacsref.normalise(src_img,
                                                       torch.float64)),
                                 src_lab, ignore_index=255)
        ce_m = F.cross_entropy(net(dacsref.normalise(mix_img, torch.float64)),
                               mix_lab, ignore_index=255, reduction='none')
        loss_m = (ce_m * mix_w.double()).mean()
        (loss_s + loss_m).backward()
        lr = lr_at(step)
        for grp in opt.param_groups:
            grp['lr'] = lr * grp['mult']
        opt.step()
        lrs.append(lr)
        losses.append([loss_s.item(), loss_m.item()])
        print('step %d: lr %.6g loss_src %.6f loss_mix %.6f'
              % (step, lr, loss_s.item(), loss_m.item()))

    w.frame('ref.hyper', torch.tensor([LR0, T, POWER, WARMUP, RATIO,
                                       BETAS[0], BETAS[1], EPS, WD, HEAD],
                                      dtype=torch.float32))
    w.frame('ref.lr', torch.tensor(lrs, dtype=torch.float32))
    w.frame('ref.loss', torch.tensor(losses, dtype=torch.float32))
    for k, v in net.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            w.frame('ref.after.' + k, v.float())
    for k, p in params.items():
        st = opt.state[p]
        assert int(st['step'].item()) == STEPS
        w.frame('ref.after.opt.' + k, st['exp_avg'].float())
        w.frame('ref.after.opt.exp_avg_sq.' + k, st['exp_avg_sq'].float())
    w.end()
    w.close()
    print('wrote', OUT)


main()
