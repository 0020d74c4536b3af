#!/usr/bin/python3
"""Write tests/fixtures/net_w4.tns: one training step of deeplab-mini at
width 4, 19 classes, on a 2x32x64 source batch and a 2x32x64 mixed batch,
computed by PyTorch in float64 from float32 parameters.

Run from the top of the tree:  /usr/bin/python3 tests/ref/make_net_fixture.py

Frames (one segment):
  the checkpoint before the step: meta.arch, meta.iter, parameters,
      running statistics, opt.* (random, non-zero momentum buffers)
  src.image src.label mix.image mix.label mix.weight   the batch
  ref.hyper     f32 [lr0, iters T, power, momentum, weight decay, head mult]
  ref.logits.src, ref.logits.mix   f32 (N,C,h,w) logits before upsampling,
      train-mode BN (ref.logits.src is also the --bn batch prediction)
  ref.logits.eval  f32 (N,C,h,w) of the source images with running
      statistics (eval mode), before the step
  ref.prob.eval    f32 (1,C,H,W) softmax of the upsampled eval logits of
      source image 0 (the seg-infer output)
  ref.loss      f32 [loss_src, loss_mix]
  ref.grad.NAME     gradient of the total loss for every parameter
  ref.after.NAME    every parameter and running statistic after the step
  ref.after.opt.NAME  every momentum buffer after the step
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dacsref  # noqa: E402

W, C, N, H, Wd = 4, 19, 2, 32, 64
ITER, T, LR0, POWER, MOM, WD, HEAD = 5, 20, 0.01, 0.9, 0.9, 5e-4, 10.0
OUT = 'tests/fixtures/net_w4.tns'

g = torch.Generator().manual_seed(20240601)


def urand(shape, lo, hi):
    return lo + (hi - lo) * torch.rand(shape, generator=g)


net = dacsref.Net(W, C)
with torch.no_grad():
    for name, p in net.named_parameters():
        if name.endswith('conv.weight') or '.conv' in name or \
                (name.startswith('head') and name.endswith('weight')):
            fan = p.shape[1] * 9
            p.copy_(urand(p.shape, -1, 1) * (6.0 / fan) ** 0.5)
        elif name.endswith('bias') and name.startswith('head'):
            p.copy_(urand(p.shape, -0.1, 0.1))
        elif name.endswith('weight'):
            p.copy_(urand(p.shape, 0.5, 1.5))
        else:
            p.copy_(urand(p.shape, -0.2, 0.2))
    for name, b in net.named_buffers():
        if name.endswith('running_mean'):
            b.copy_(urand(b.shape, -0.3, 0.3))
        elif name.endswith('running_var'):
            b.copy_(urand(b.shape, 0.5, 2.0))
# float32 values, then the reference in float64
net = net.float().double()
params = dict(net.named_parameters())
stats = {k: v for k, v in net.named_buffers()
         if not k.endswith('num_batches_tracked')}
mom = {k: (0.01 * torch.randn(p.shape, generator=g)).float().double()
       for k, p in params.items()}


def labels():
    y = torch.randint(0, C, (N, H, Wd), generator=g, dtype=torch.int64)
    y[torch.rand((N, H, Wd), generator=g) < 0.15] = 255
    return y


src_img = torch.randint(0, 256, (N, H, Wd, 3), generator=g, dtype=torch.uint8)
mix_img = torch.randint(0, 256, (N, H, Wd, 3), generator=g, dtype=torch.uint8)
src_lab, mix_lab = labels(), labels()
mix_w = urand((N, H, Wd), 0, 1).float()
xs = dacsref.normalise(src_img, torch.float64)
xm = dacsref.normalise(mix_img, torch.float64)

os.makedirs(os.path.dirname(OUT), exist_ok=True)
w = dacsref.TnsWriter(OUT)
w.text('meta.arch', 'net=deeplab-mini\nversion=1\nwidth=%d\nclasses=%d\n'
       'mean=0.485,0.456,0.406\nstd=0.229,0.224,0.225\n' % (W, C))
w.frame('meta.iter', torch.tensor(ITER, dtype=torch.int32))
sd = net.state_dict()
for k, v in sd.items():
    if not k.endswith('num_batches_tracked'):
        w.frame(k, v.float())
for k in params:
    w.frame('opt.' + k, mom[k].float())
w.frame('src.image', src_img)
w.frame('src.label', src_lab.to(torch.uint8))
w.frame('mix.image', mix_img)
w.frame('mix.label', mix_lab.to(torch.uint8))
w.frame('mix.weight', mix_w)
w.frame('ref.hyper', torch.tensor([LR0, T, POWER, MOM, WD, HEAD],
                                  dtype=torch.float32))

# eval-mode prediction before the step
net.eval()
with torch.no_grad():
    le = net.low(xs)
    pe = F.softmax(F.interpolate(le, size=(H, Wd), mode='bilinear',
                                 align_corners=True), dim=1)
w.frame('ref.logits.eval', le.float())
w.frame('ref.prob.eval', pe[:1].float())

# the training step
net.train()
lo_s = net.low(xs)
up_s = F.interpolate(lo_s, size=(H, Wd), mode='bilinear', align_corners=True)
loss_s = F.cross_entropy(up_s, src_lab, ignore_index=255)
lo_m = net.low(xm)
up_m = F.interpolate(lo_m, size=(H, Wd), mode='bilinear', align_corners=True)
ce_m = F.cross_entropy(up_m, mix_lab, ignore_index=255, reduction='none')
loss_m = (ce_m * mix_w.double()).mean()
(loss_s + loss_m).backward()
w.frame('ref.logits.src', lo_s.detach().float())
w.frame('ref.logits.mix', lo_m.detach().float())
w.frame('ref.loss', torch.tensor([loss_s.item(), loss_m.item()],
                                 dtype=torch.float32))
for k, p in params.items():
    w.frame('ref.grad.' + k, p.grad.float())

lr = LR0 * (1 - ITER / T) ** POWER
body = [p for k, p in params.items() if not k.startswith('head')]
head = [p for k, p in params.items() if k.startswith('head')]
opt = torch.optim.SGD([{'params': body, 'lr': lr},
                       {'params': head, 'lr': lr * HEAD}],
                      lr=lr, momentum=MOM, weight_decay=WD)
for k, p in params.items():
    opt.state[p]['momentum_buffer'] = mom[k].clone()
opt.step()
for k, v in net.state_dict().items():
    if not k.endswith('num_batches_tracked'):
        w.frame('ref.after.' + k, v.float())
for k, p in params.items():
    w.frame('ref.after.opt.' + k, opt.state[p]['momentum_buffer'].float())
w.end()
w.close()
print('wrote %s: loss_src %.6f loss_mix %.6f' % (OUT, loss_s.item(),
                                                 loss_m.item()))
