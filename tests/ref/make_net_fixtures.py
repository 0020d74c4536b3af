#!/usr/bin/python3
"""Write the network fixtures of tests/unit/test_model_ref.c: one training
step of a network on a 2xHxW source batch and a 2xHxW mixed batch,
computed by PyTorch in float64 from float32 parameters.

  net_w4.tns           deeplab-mini, width 4, 19 classes, 32x64, with
                       momentum buffers (meta.iter 5)
  net_r50_caffe.tns    deeplabv2 depth 50, blocks 2,1,2,1, width 2, caffe,
                       2 heads, frozen BN, BGR with the Caffe mean, 36x52
  net_r50_pytorch.tns  deeplabv2 depth 50, blocks 1,1,1,1, width 2,
                       pytorch, 4 heads, trained BN, RGB, 36x52
  net_r18_caffe.tns    deeplabv2 depth 18, blocks 1,1,2,1, width 2, caffe,
                       2 heads, trained BN, RGB, 36x52

The deeplabv2 ones start from a fresh optimizer (no opt.* frames); the
36x52 inputs give a max-pool whose ceil and floor modes differ in both
directions.  Run from the top of the tree:
    /usr/bin/python3 tests/ref/make_net_fixtures.py

Frames (one segment):
  the checkpoint before the step: meta.arch, meta.iter, parameters,
      running statistics, opt.* (net_w4: random, non-zero momentum)
  src.image src.label mix.image mix.label mix.weight   the batch
  ref.hyper     f32 [lr0, iters T, power, momentum, weight decay, head mult]
  ref.logits.src, ref.logits.mix   f32 (N,C,h,w) logits before upsampling,
      train-mode BN (ref.logits.src is also the --bn batch prediction)
  ref.logits.eval  f32 (N,C,h,w) of the source images with running
      statistics (eval mode), before the step
  ref.prob.eval    f32 (1,C,H,W) softmax of the upsampled eval logits of
      source image 0 (the seg-infer output)
  ref.loss      f32 [loss_src, loss_mix]
  ref.grad.NAME     gradient of the total loss for every trained parameter
  ref.after.NAME    every parameter and running statistic after the step
                    (frozen ones unchanged)
  ref.after.opt.NAME  every momentum buffer after the step (net_w4)
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dacsref  # noqa: E402

T, LR0, POWER, MOM, WD, HEAD = 20, 0.01, 0.9, 0.9, 5e-4, 10.0


def shortest(v):
    """the shortest decimal that reads back as the same float32 (as
    meta.arch writes it)"""
    f = struct.unpack('<f', struct.pack('<f', v))[0]
    for digits in range(6, 10):
        s = '%.*g' % (digits, f)
        if struct.unpack('<f', struct.pack('<f', float(s)))[0] == f:
            return s
    return s


def triple(v):
    return ','.join(shortest(x) for x in v)


def fixture(out, net, arch, C, N, H, Wd, it, seed, momentum, norm):
    """One step of net from random parameters into the fixture out.  norm:
    the keyword arguments of dacsref.normalise."""
    g = torch.Generator().manual_seed(seed)

    def urand(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    def is_head(name):
        return name.startswith('head') or name.startswith('layer5')

    dacsref.randomise(net, g, is_head)
    # float32 values, then the reference in float64
    net = net.float().double()
    params = dict(net.named_parameters())
    mom = {k: (0.01 * torch.randn(p.shape, generator=g)).float().double()
           for k, p in params.items()} if momentum else {}

    def labels():
        y = torch.randint(0, C, (N, H, Wd), generator=g, dtype=torch.int64)
        y[torch.rand((N, H, Wd), generator=g) < 0.15] = 255
        return y

    src_img = torch.randint(0, 256, (N, H, Wd, 3), generator=g,
                            dtype=torch.uint8)
    mix_img = torch.randint(0, 256, (N, H, Wd, 3), generator=g,
                            dtype=torch.uint8)
    src_lab, mix_lab = labels(), labels()
    mix_w = urand((N, H, Wd), 0, 1).float()
    xs = dacsref.normalise(src_img, torch.float64, **norm)
    xm = dacsref.normalise(mix_img, torch.float64, **norm)

    os.makedirs(os.path.dirname(out), exist_ok=True)
    w = dacsref.TnsWriter(out)
    w.text('meta.arch', arch)
    w.frame('meta.iter', torch.tensor(it, dtype=torch.int32))
    for k, v in net.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            w.frame(k, v.float())
    for k in mom:
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
    up_s = F.interpolate(lo_s, size=(H, Wd), mode='bilinear',
                         align_corners=True)
    loss_s = F.cross_entropy(up_s, src_lab, ignore_index=255)
    lo_m = net.low(xm)
    up_m = F.interpolate(lo_m, size=(H, Wd), mode='bilinear',
                         align_corners=True)
    ce_m = F.cross_entropy(up_m, mix_lab, ignore_index=255, reduction='none')
    loss_m = (ce_m * mix_w.double()).mean()
    (loss_s + loss_m).backward()
    w.frame('ref.logits.src', lo_s.detach().float())
    w.frame('ref.logits.mix', lo_m.detach().float())
    w.frame('ref.loss', torch.tensor([loss_s.item(), loss_m.item()],
                                     dtype=torch.float32))
    # trained: a gradient (frozen BN has none, nor a head branch that
    # never runs: PyTorch's SGD skips both)
    trained = {k: p for k, p in params.items() if p.grad is not None}
    for k, p in trained.items():
        w.frame('ref.grad.' + k, p.grad.float())

    lr = LR0 * (1 - it / T) ** POWER
    body = [p for k, p in trained.items() if not is_head(k)]
    head = [p for k, p in trained.items() if is_head(k)]
    opt = torch.optim.SGD([{'params': body, 'lr': lr},
                           {'params': head, 'lr': lr * HEAD}],
                          lr=lr, momentum=MOM, weight_decay=WD)
    for k in mom:
        opt.state[params[k]]['momentum_buffer'] = mom[k].clone()
    opt.step()
    for k, v in net.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            w.frame('ref.after.' + k, v.float())
    for k in mom:
        w.frame('ref.after.opt.' + k,
                opt.state[params[k]]['momentum_buffer'].float())
    w.end()
    w.close()
    print('wrote %s: loss_src %.6f loss_mix %.6f' % (out, loss_s.item(),
                                                     loss_m.item()))


def deeplabv2(out, depth, blocks, style, heads, frozen, order, seed):
    C, width = 3, 2
    mean, std = ((dacsref.CAFFE_MEAN, dacsref.CAFFE_STD) if order == 'bgr'
                 else (dacsref.MEAN, dacsref.STD))
    arch = ('net=deeplabv2\nversion=2\ndepth=%d\nblocks=%s\nwidth=%d\n'
            'style=%s\nheads=%d\nbn=%s\nclasses=%d\norder=%s\nmean=%s\n'
            'std=%s\n' % (depth, ','.join(map(str, blocks)), width, style,
                          heads, 'frozen' if frozen else 'train', C, order,
                          triple(mean), triple(std)))
    net = dacsref.DeepLabV2(depth, blocks, width, style, heads, frozen, C)
    fixture(out, net, arch, C, 2, 36, 52, 0, seed, False,
            {'mean': mean, 'std': std, 'bgr': order == 'bgr'})


fixture('tests/fixtures/net_w4.tns', dacsref.Net(4, 19),
        'net=deeplab-mini\nversion=1\nwidth=4\nclasses=19\n'
        'mean=0.485,0.456,0.406\nstd=0.229,0.224,0.225\n',
        19, 2, 32, 64, 5, 20240601, True, {})
deeplabv2('tests/fixtures/net_r50_caffe.tns', 50, (2, 1, 2, 1), 'caffe', 2,
          True, 'bgr', 1)
deeplabv2('tests/fixtures/net_r50_pytorch.tns', 50, (1, 1, 1, 1), 'pytorch',
          4, False, 'rgb', 2)
deeplabv2('tests/fixtures/net_r18_caffe.tns', 18, (1, 1, 2, 1), 'caffe', 2,
          False, 'rgb', 3)
