#!/usr/bin/python3
"""make check-torch: seg-import and seg-export against live PyTorch.

Run by `make check-torch` (never by make check) with DACS_BIN set to the
tools under test; needs Debian's python3-torch.  Prints TAP and a closing
line "N passed, N failed"; exits non-zero on any failure.

Both ways, for deeplab-mini (tests/ref/dacsref.py) of two sizes, and
for DeepLabv2-ResNet-101 at full size on a 512x512 image (a DACS
training checkpoint, student and EMA teacher, and torchvision's ImageNet
ResNet-101 layout, each with random weights: this machine cannot
download the published files, so these stand in for them, the same
format, names and sizes):
  import  torch.save of a random module's state_dict (zip and legacy),
          safetensors and .npz of it -> seg-import -> seg-infer
          --bn running: the probabilities equal PyTorch's eval forward;
  export  seg-init -> seg-export (.pth, .safetensors, .npz) -> torch.load
          (weights_only=True) -> load_state_dict(strict=True): PyTorch's
          forward equals seg-infer's on the dacs checkpoint; a DACS-style
          file (--teacher) loads as {'iteration', 'model', 'ema_model'}.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dacsref  # noqa: E402
import import_nets  # noqa: E402

BIN = os.environ.get('DACS_BIN', 'bin')
# dacs's float32 forward of these random networks (width 4 and 8, large
# logits) against PyTorch's in float64: at most 1.3e-6 in the
# probabilities, measured, and OpenBLAS kernels differ between CPUs; a
# wrong weight, layout or conversion moves them by 1e-2 and more
TOL = 5e-6
torch.set_num_threads(2)
g = torch.Generator().manual_seed(1414)
count = {'pass': 0, 'fail': 0}


def check(ok, msg):
    count['pass' if ok else 'fail'] += 1
    n = count['pass'] + count['fail']
    print('%sok %d - %s' % ('' if ok else 'not ', n, msg), flush=True)


def tool(*args):
    r = subprocess.run([os.path.join(BIN, args[0])] + [str(a) for a in
                                                        args[1:]],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError('%s failed: %s' % (' '.join(map(str, args)),
                                              r.stderr.strip()))
    return r


def torch_prob(net, img):
    """the reference in float64 from the float32 values, so that the
    error measured is dacs's own"""
    with torch.no_grad():
        x = dacsref.normalise(img, torch.float64)
        return F.softmax(net.double()(x), dim=1).numpy()


def dacs_prob(ckpt, img, d):
    src, out = os.path.join(d, 'img.tns'), os.path.join(d, 'out.tns')
    w = dacsref.TnsWriter(src)
    w.frame('tgt.image', img)
    w.end()
    w.close()
    tool('seg-infer', '-m', ckpt, '-i', src, '-o', out)
    npy = os.path.join(d, 'prob.npy')
    tool('tns', 'npy-out', '-i', out, 'tgt.prob', npy)
    return np.load(npy)


def load_safetensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    head = json.loads(b[8:8 + n])
    types = {'F32': np.float32, 'I64': np.int64}
    out = {}
    for k, v in head.items():
        if k == '__metadata__':
            continue
        lo, hi = v['data_offsets']
        a = np.frombuffer(b[8 + n + lo:8 + n + hi], dtype=types[v['dtype']])
        out[k] = torch.from_numpy(a.reshape(v['shape']).copy())
    return out


def test_import(w, c, d):
    net = import_nets.randomise(dacsref.Net(w, c), g)
    img = torch.randint(0, 256, (2, 40, 56, 3), generator=g,
                        dtype=torch.uint8)
    ref = torch_prob(net, img)
    sd = net.state_dict()
    files = {'zip.pth': lambda p: torch.save(sd, p),
             'legacy.pth': lambda p: torch.save(
                 sd, p, _use_new_zipfile_serialization=False),
             'st.safetensors': lambda p: import_nets.save_safetensors(sd, p),
             'np.npz': lambda p: np.savez(
                 p, **{k: v.numpy() for k, v in sd.items()})}
    for name, save in files.items():
        path = os.path.join(d, name)
        save(path)
        ckpt = os.path.join(d, 'in.tns')
        tool('seg-import', '-q', path, '-o', ckpt)
        err = np.abs(dacs_prob(ckpt, img, d) - ref).max()
        check(err <= TOL, 'import width %d, %d classes, %s: seg-infer vs '
              'PyTorch, max error %.2g' % (w, c, name, err))


def test_export(w, c, d):
    ckpt = os.path.join(d, 'init.tns')
    tool('seg-init', '--width', w, '--classes', c, '--seed', 5, '-o', ckpt)
    img = torch.randint(0, 256, (2, 40, 56, 3), generator=g,
                        dtype=torch.uint8)
    mine = dacs_prob(ckpt, img, d)
    loaders = {
        'out.pth': lambda p: torch.load(p, weights_only=True),
        'out.safetensors': load_safetensors,
        'out.npz': lambda p: {k: torch.from_numpy(v)
                              for k, v in np.load(p).items()}}
    for name, load in loaders.items():
        path = os.path.join(d, name)
        tool('seg-export', ckpt, '-o', path)
        sd = load(path)
        net = dacsref.Net(w, c)
        try:
            net.load_state_dict(sd, strict=True)
            ok = all(sd[k].dtype == torch.int64 for k in sd
                     if k.endswith('num_batches_tracked'))
            err = np.abs(torch_prob(net.eval(), img) - mine).max()
        except RuntimeError as e:
            ok, err = False, float('inf')
            print('# %s' % e)
        check(ok and err <= TOL, 'export width %d, %d classes, %s: '
              'load_state_dict(strict=True), int64 batch counters, PyTorch '
              'vs seg-infer, max error %.2g' % (w, c, name, err))
    # a DACS training checkpoint
    student = os.path.join(d, 's.tns')
    tool('seg-import', '-q', '--iter', 9, os.path.join(d, 'out.pth'), '-o',
         student)
    teacher = os.path.join(d, 't.tns')
    tool('seg-init', '--width', w, '--classes', c, '--seed', 6, '-o', teacher)
    path = os.path.join(d, 'dacs.pth')
    tool('seg-export', student, '--teacher', teacher, '-o', path)
    ck = torch.load(path)
    net, ema = dacsref.Net(w, c), dacsref.Net(w, c)
    net.load_state_dict(ck['model'], strict=True)
    ema.load_state_dict(ck['ema_model'], strict=True)
    err = np.abs(torch_prob(ema.eval(), img) - dacs_prob(teacher, img, d))
    check(sorted(ck) == ['ema_model', 'iteration', 'model'] and
          ck['iteration'] == 8 and err.max() <= TOL,
          'export --teacher: a dict of iteration 8, model and ema_model; the '
          'teacher loads strictly and runs as in dacs (max error %.2g)'
          % err.max())


# ---- DeepLabv2-ResNet-101 at full size ----
# dacs's float32 forward and PyTorch's float32 one of a random R101 (33
# residual blocks) on a 512x512 image, compared as log-probabilities (the
# logits less each pixel's log-sum-exp, so that a saturated softmax hides
# nothing), relative to the largest logit: the two float32 sums of 2048 x
# 9 products per output, over 100 layers, differ by ~2e-6 of it
# (PyTorch's float32 against its float64, measured: 1.9e-6; dacs's
# blocked OpenBLAS sums differ as much); a wrong weight, stride,
# dilation, channel order or mean moves them by 1e-2 and more.
DL_TOL = 2e-5
SIDE = 512


def dl_image():
    return torch.randint(0, 256, (1, SIDE, SIDE, 3), generator=g,
                         dtype=torch.uint8)


def dl_logp(net, img, order):
    """PyTorch's log-probabilities (float32 forward, as dacs's), the
    logits upsampled as seg-infer does (bilinear, align_corners=True)"""
    norm = ({'mean': dacsref.CAFFE_MEAN, 'std': dacsref.CAFFE_STD,
             'bgr': True} if order == 'bgr' else {})
    with torch.no_grad():
        up = net.float().eval()(dacsref.normalise(img, **norm))
        return F.log_softmax(up.double(), dim=1).numpy(), up.abs().max()


def dl_compare(name, ckpt, net, img, order, d):
    mine = np.log(dacs_prob(ckpt, img, d).astype(np.float64))
    ref, big = dl_logp(net, img, order)
    err = np.abs(mine - ref).max() / float(big)
    check(err <= DL_TOL, '%s: seg-infer vs PyTorch on %dx%d, log-probability '
          'error %.2g of the largest logit %.3g (tolerance %.0e)'
          % (name, SIDE, SIDE, err, float(big), DL_TOL))
    return mine


def scaled_head(net, s):
    """the head times s: logits times s (a linear layer), so that a
    random network's softmax is not saturated to 0 and 1"""
    with torch.no_grad():
        for p in net.layer5.parameters():
            p.mul_(s)
    return net


def test_dacs_r101(d):
    """a DACS DeepLabv2-R101 training checkpoint (student, EMA teacher,
    iteration) -> seg-import (no options) -> seg-infer vs PyTorch; then
    seg-export -> load_state_dict(strict=True) -> the same logits"""
    net = scaled_head(import_nets.randomise(dacsref.DeepLabV2(101), g), 0.25)
    ema = import_nets.randomise(dacsref.DeepLabV2(101), g)
    img = dl_image()
    path = os.path.join(d, 'dacs-r101.pth')
    torch.save({'iteration': 39999, 'model': net.state_dict(),
                'ema_model': ema.state_dict(), 'config': {'model': 'DeepLab'}},
               path)
    s, t = os.path.join(d, 's.tns'), os.path.join(d, 't.tns')
    r = tool('seg-import', path, '-o', s, '--teacher-out', t)
    check('deeplabv2 depth=101 blocks=3,4,23,3 width=64 style=caffe '
          'classes=19 heads=2 input BGR minus the Caffe mean by map dacs: '
          '528 of 528 tensors' in r.stderr and 'meta.iter 40000' in r.stderr,
          'DACS R101 checkpoint: recognised with no options (%s)'
          % r.stderr.splitlines()[0])
    mine = dl_compare('DACS R101 student', s, net, img, 'bgr', d)
    out = os.path.join(d, 'r101.pth')
    tool('seg-export', s, '-o', out)
    sd = torch.load(out, weights_only=True)
    back = dacsref.DeepLabV2(101)
    try:
        back.load_state_dict(sd, strict=True)
        ok = all(torch.equal(sd[k].float(), v.float())
                 for k, v in net.state_dict().items()
                 if not k.endswith('num_batches_tracked'))
    except RuntimeError as e:
        ok = False
        print('# %s' % e)
    ref, big = dl_logp(back, img, 'bgr')
    err = np.abs(mine - ref).max() / float(big)
    check(ok and err <= DL_TOL, 'seg-export of it: load_state_dict(strict='
          'True), every tensor as saved, PyTorch\'s logits vs seg-infer\'s '
          'error %.2g of the largest' % err)
    tout = os.path.join(d, 'dacs-out.pth')
    tool('seg-export', s, '--teacher', t, '-o', tout)
    ck = torch.load(tout, weights_only=True)
    ema2 = dacsref.DeepLabV2(101)
    ema2.load_state_dict(ck['ema_model'], strict=True)
    check(ck['iteration'] == 39999 and all(
        torch.equal(ck['ema_model'][k].float(), v.float())
        for k, v in ema.state_dict().items()
        if not k.endswith('num_batches_tracked')),
        'seg-export --teacher: iteration 39999 and the EMA teacher as saved, '
        'loaded strictly')


def test_torchvision_r101(d):
    """torchvision's ImageNet ResNet-101 layout (legacy format) ->
    seg-import (no options): the backbone, fc dropped, the head seeded;
    PyTorch runs the backbone as dacsref's pytorch-style DeepLabv2 with
    the head dacs drew"""
    import torchvision
    tv = import_nets.randomise(torchvision.models.resnet101(), g)
    path = os.path.join(d, 'resnet101.pth')
    torch.save(tv.state_dict(), path, _use_new_zipfile_serialization=False)
    ckpt = os.path.join(d, 'tv.tns')
    r = tool('seg-import', '--seed', 4, path, '-o', ckpt)
    check('style=pytorch classes=19 heads=2 input RGB by map torchvision: '
          '520 of 528 tensors from the file, 8 left to initialise, 2 '
          'dropped' in r.stderr, 'torchvision R101: recognised with no '
          'options (%s)' % r.stderr.splitlines()[0])
    net = dacsref.DeepLabV2(101, style='pytorch')
    res = net.load_state_dict(tv.state_dict(), strict=False)
    head = {}
    for k in net.layer5.state_dict():
        npy = os.path.join(d, 'h.npy')
        tool('tns', 'npy-out', '-i', ckpt, 'layer5.' + k, npy)
        head[k] = torch.from_numpy(np.load(npy))
    net.layer5.load_state_dict(head, strict=True)
    check(sorted(res.unexpected_keys) == ['fc.bias', 'fc.weight'] and
          all(k.startswith('layer5.') for k in res.missing_keys),
          'torchvision R101: only fc.* is not a DeepLabv2 tensor')
    dl_compare('torchvision R101', ckpt, net, dl_image(), 'rgb', d)


def main():
    with tempfile.TemporaryDirectory() as d:
        for w, c in ((4, 5), (8, 19)):
            test_import(w, c, d)
            test_export(w, c, d)
        test_dacs_r101(d)
        test_torchvision_r101(d)
    print('1..%d' % (count['pass'] + count['fail']))
    print('%d passed, %d failed' % (count['pass'], count['fail']))
    return 1 if count['fail'] else 0


sys.exit(main())
