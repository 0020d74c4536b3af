#!/usr/bin/python3
"""Write tests/fixtures/import/: weights files of deeplab-mini (width 1,
3 classes) in every format and layout seg-import reads, the reference
probabilities of their forward, files it must refuse, and the key lists
of real networks that the key maps are tested on.

Run from the top of the tree:  /usr/bin/python3 tests/ref/make_import_fixtures.py

ref.tns (one segment):
  tgt.image        u8 (1,12,16,3)        the input
  ref.prob.f32     f32 (1,3,12,16)      softmax of the upsampled eval-mode
                                        logits (seg-infer --bn running) of
                                        the f32 weights
  ref.prob.f16, ref.prob.bf16, ref.prob.f64   the same for the weights as
                                        stored in those types, read as f32
  ref.prob.teacher  the teacher of mini-dacs.pth
Weights (all the same f32 network unless said):
  mini-zip.pth        plain state_dict, torch.save (zip)
  mini-legacy.pth     plain state_dict, legacy format
  mini.safetensors    plain state_dict (our writer, import_nets.py)
  mini.npz            numpy.savez of the state_dict
  mini-f16.pth, mini-bf16.pth   the state_dict in half / bfloat16
  mini-f64-legacy.pth the state_dict in float64, legacy format
  mini-strided.pth    non-contiguous views, storage offsets, shared storage
  mini-wrapped.pth    {'model': ..., 'optimizer': ..., 'iteration': 41}
  mini-module.pth     {'state_dict': DataParallel 'module.' keys, 'meta': ...}
  mini-scale-legacy.pth  AdaptSegNet's 'Scale.' prefix, legacy format
  mini-dacs.pth       a DACS training checkpoint: iteration 41, optimizer,
                      config, model (student), ema_model (teacher)
Refused:
  evil-os-system.pth      data.pkl calls os.system
  evil-eval.pth           protocol 4, STACK_GLOBAL builtins.eval
  evil-posix.pth          legacy file whose object calls posix.system
  module-pickled.pth      torch.save(nn.Linear(1, 1)): names its class
  truncated-zip.pth       mini-zip.pth cut in half
  truncated-legacy.pth    mini-legacy.pth cut inside a storage
  short-storage.pth       a storage record shorter than its tensors' id
  view-past-end.pth       a tensor reaching past its storage
  mini-missing.safetensors  head.3.bias missing
  mini-extra.safetensors    an unexpected tensor 'aux.weight'
DeepLabv2 (depth 50, blocks 1,1,1,1, width 1, 3 classes; dlv2-ref.tns
holds tgt.image u8 (1,33,41,3) and each reference's eval-mode logits
before upsampling, f32 (1,3,5,6)):
  dlv2-zip.pth          DACS names, caffe style: ref.logits.caffe (BGR,
                        the Caffe mean)
  dlv2-scale-legacy.pth 'Scale.' prefix, no num_batches_tracked, legacy
  dlv2-f16.pth          in half: ref.logits.caffe.f16
  dlv2-strided.pth      non-contiguous views, offsets, a shared storage
  dlv2-wrapped.pth      {'state_dict': ..., 'meta': ...}
  dlv2-dacs.pth         DACS training checkpoint: iteration 41, model,
                        ema_model (ref.logits.teacher), config
  dlv2-torchvision.pth  torchvision names (pytorch style), fc.*, no
                        layer5: ref.logits.torchvision (RGB, ImageNet
                        mean) with the head ref.head.layer5.*
  dlv2-mmseg.pth        backbone. + decode_head.aspp_modules.K.conv.*,
                        pytorch style, four branches summed:
                        ref.logits.mmseg
  dlv2-coco-legacy.pth  the layout of the DACS COCO file: 'Scale.', no
                        counters, a head of 5 classes, legacy format
Every legacy file is written with import_nets.save_legacy: the same
bytes on every run.
Fuzz seeds (tests/fuzz/corpus/pickle, tests/fuzz/corpus/torchfile): the
pickles and containers above, of a two-tensor state_dict.
Key lists (keys/, one "name dims..." line per tensor):
  resnet101-torchvision.txt   torchvision.models.resnet101().state_dict()
  deeplabv2-r101.txt          dacsref.DeepLabV2(101), 19 classes (DACS)
  mmseg-r50-v1c-dlv2red.txt   mmsegmentation/DAFormer deeplabv2red R50:
                              ResNetV1c deep stem, two head branches
  mmseg-r50-v1b-dlv2.txt      the same with the V1b stem (conv1, bn1) and
                              four head branches
"""
import collections
import os
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dacsref  # noqa: E402
import import_nets  # noqa: E402

OUT = 'tests/fixtures/import'
W, C, N, H, Wd = 1, 3, 1, 12, 16
g = torch.Generator().manual_seed(20240614)


def random_net():
    return import_nets.randomise(dacsref.Net(W, C), g)


def prob(net, sd, img):
    """softmax of the upsampled eval logits with sd's values as f32"""
    net.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in sd.items()})
    with torch.no_grad():
        x = dacsref.normalise(img)
        return F.softmax(net(x), dim=1)


def path(name):
    return os.path.join(OUT, name)


def save(obj, name, legacy=False):
    if legacy:
        import_nets.save_legacy(obj, path(name))
    else:
        torch.save(obj, path(name))


def strided(sd):
    """the same values, stored as views: transposed convolution weights,
    a storage offset, two tensors sharing one storage"""
    out = collections.OrderedDict()
    for k, v in sd.items():
        if v.dim() == 4:
            out[k] = v.permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3)
        else:
            out[k] = v
    big = torch.cat([torch.zeros(5), sd['head.0.bias'], sd['head.1.bias']])
    out['head.0.bias'] = big[5:5 + C]
    out['head.1.bias'] = big[5 + C:]
    w = sd['stem.0.conv.weight']
    pad = torch.cat([torch.full((7,), 9.0), w.reshape(-1)])
    out['stem.0.conv.weight'] = pad[7:].view(w.shape)
    assert not out['s3.res0.conv1.weight'].is_contiguous()
    return out


def zip_entry(z, name, data):
    """an entry of fixed time, so that a rerun gives the same bytes"""
    z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def zip_replace(src, dst, name, data):
    """copy zip src to dst with the entry ending in name replaced"""
    with zipfile.ZipFile(path(src)) as zi, \
            zipfile.ZipFile(path(dst), 'w', zipfile.ZIP_STORED) as zo:
        for info in zi.infolist():
            b = zi.read(info.filename)
            if info.filename.endswith(name):
                b = data
            zip_entry(zo, info.filename, b)


def evil_zip(name, pkl):
    with zipfile.ZipFile(path(name), 'w', zipfile.ZIP_STORED) as z:
        zip_entry(z, 'archive/data.pkl', pkl)
        zip_entry(z, 'archive/version', b'3\n')


def binunicode(s):
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b


def seeds(sd):
    """small seed inputs for the fuzz targets"""
    import pickle
    pk = 'tests/fuzz/corpus/pickle'
    tf = 'tests/fuzz/corpus/torchfile'
    os.makedirs(pk, exist_ok=True)
    os.makedirs(tf, exist_ok=True)
    small = collections.OrderedDict(
        (k, sd[k]) for k in ('stem.0.conv.weight',
                             'stem.0.bn.num_batches_tracked'))
    small['view'] = torch.arange(12.0).view(3, 4).t()[1:]
    small['half'] = torch.ones(2, dtype=torch.float16)
    torch.save(small, os.path.join(tf, 'small-zip.pth'))
    import_nets.save_legacy({'model': small, 'iteration': 3},
                            os.path.join(tf, 'small-legacy.pth'))
    import_nets.save_safetensors(small, os.path.join(tf, 'small.safetensors'),
                                 {'format': 'pt'})
    np.savez(os.path.join(tf, 'small.npz'),
             **{k: v.numpy() for k, v in small.items()})
    with zipfile.ZipFile(os.path.join(tf, 'small-zip.pth')) as z:
        data = z.read([n for n in z.namelist() if n.endswith('data.pkl')][0])
    open(os.path.join(pk, 'state_dict.pkl'), 'wb').write(data)
    plain = {'a': [1, 2.5, None, True, 'xxx', b'yy', (1, 2)], 'big': 2**40,
             'neg': -5, 'u': '\u00e9'}
    for proto in (0, 2, 4):
        open(os.path.join(pk, 'plain-%d.pkl' % proto), 'wb').write(
            pickle.dumps(plain if proto else [1, -3, 2.5, None, True, 10**12],
                         protocol=proto))


# ---- DeepLabv2 ----
# depth 50 with one block per layer, width 1, 3 classes: every kind of
# tensor of the DACS DeepLabv2-R101 (bottleneck blocks, projections,
# the four-branch head) in a few kilobytes
DL = dict(depth=50, blocks=(1, 1, 1, 1), width=1, classes=3)
DH, DW = 33, 41  # odd sides: the caffe style's ceil-mode pool differs


def dl_net(style, heads):
    return import_nets.randomise(
        dacsref.DeepLabV2(style=style, heads=heads, **DL), g)


def dl_logits(net, sd, img, order):
    """the logits before upsampling, eval mode, sd's values as f32, the
    input normalised as the map's record says (dacs: BGR, Caffe mean)"""
    net.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in sd.items()}, strict=False)
    norm = ({'mean': dacsref.CAFFE_MEAN, 'std': dacsref.CAFFE_STD,
             'bgr': True} if order == 'bgr' else {})
    with torch.no_grad():
        return net.low(dacsref.normalise(img, **norm))


def no_counters(sd):
    """a pre-0.4 file (the DACS COCO DeepLabv2): no num_batches_tracked"""
    return collections.OrderedDict(
        (k, v) for k, v in sd.items() if not k.endswith('num_batches_tracked'))


def deeplabv2():
    """dlv2-*.pth and dlv2-ref.tns (see the module's text)"""
    img = torch.randint(0, 256, (1, DH, DW, 3), generator=g,
                        dtype=torch.uint8)
    caffe, teacher = dl_net('caffe', 2), dl_net('caffe', 2)
    sd = collections.OrderedDict(
        (k, v.clone()) for k, v in caffe.state_dict().items())
    tsd = collections.OrderedDict(
        (k, v.clone()) for k, v in teacher.state_dict().items())
    half = collections.OrderedDict(
        (k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
    tv_net = dl_net('pytorch', 2)
    tv = collections.OrderedDict(
        (k, v.clone()) for k, v in tv_net.state_dict().items()
        if not k.startswith('layer5.'))
    tv['fc.weight'] = torch.randn(10, 4 * 8 * DL['width'], generator=g)
    tv['fc.bias'] = torch.randn(10, generator=g)
    head = collections.OrderedDict(
        (k, v.clone()) for k, v in tv_net.state_dict().items()
        if k.startswith('layer5.'))
    mm_net = dl_net('pytorch', 4)
    mm = collections.OrderedDict()
    for k, v in mm_net.state_dict().items():
        if k.startswith('layer5.'):
            b, leaf = k.split('.')[2:]
            mm['decode_head.aspp_modules.%s.conv.%s' % (b, leaf)] = v.clone()
        else:
            mm['backbone.' + k] = v.clone()

    w = dacsref.TnsWriter(path('dlv2-ref.tns'))
    w.frame('tgt.image', img)
    w.frame('ref.logits.caffe', dl_logits(caffe, sd, img, 'bgr'))
    w.frame('ref.logits.caffe.f16', dl_logits(caffe, half, img, 'bgr'))
    w.frame('ref.logits.teacher', dl_logits(teacher, tsd, img, 'bgr'))
    w.frame('ref.logits.torchvision', dl_logits(tv_net, tv_net.state_dict(),
                                                img, 'rgb'))
    for k, v in head.items():
        w.frame('ref.head.' + k, v)
    w.frame('ref.logits.mmseg', dl_logits(mm_net, mm_net.state_dict(), img,
                                          'rgb'))
    w.end()
    w.close()

    save(sd, 'dlv2-zip.pth')
    save(collections.OrderedDict(('Scale.' + k, v)
                                 for k, v in no_counters(sd).items()),
         'dlv2-scale-legacy.pth', legacy=True)
    save(half, 'dlv2-f16.pth')
    save(strided_dl(sd), 'dlv2-strided.pth')
    save({'state_dict': sd, 'meta': {'iter': 7}}, 'dlv2-wrapped.pth')
    save({'iteration': 41, 'model': sd, 'ema_model': tsd,
          'config': {'model': 'DeepLab', 'pretrained': 'coco'}},
         'dlv2-dacs.pth')
    save(tv, 'dlv2-torchvision.pth')
    save(mm, 'dlv2-mmseg.pth')
    # the COCO file's layout: 'Scale.', no counters, a head of other
    # classes (5 here, 21 there) than the run's
    coco = collections.OrderedDict(('Scale.' + k, v)
                                   for k, v in no_counters(sd).items())
    for k in list(coco):
        if k.startswith('Scale.layer5.'):
            shape = (5,) + tuple(coco[k].shape[1:])
            coco[k] = torch.randn(shape, generator=g) * 0.01
    save(coco, 'dlv2-coco-legacy.pth', legacy=True)


def strided_dl(sd):
    """non-contiguous views and storage offsets: every 4-d weight
    transposed in storage, the head biases in one shared storage"""
    out = collections.OrderedDict()
    for k, v in sd.items():
        out[k] = (v.permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3)
                  if v.dim() == 4 else v)
    keys = ['layer5.conv2d_list.%d.bias' % i for i in range(4)]
    big = torch.cat([torch.zeros(3)] + [sd[k] for k in keys])
    for i, k in enumerate(keys):
        out[k] = big[3 + 3 * i:6 + 3 * i]
    assert not out['layer4.0.conv2.weight'].is_contiguous()
    return out


def main():
    os.makedirs(os.path.join(OUT, 'keys'), exist_ok=True)
    img = torch.randint(0, 256, (N, H, Wd, 3), generator=g, dtype=torch.uint8)
    net, teacher = random_net(), random_net()
    sd = collections.OrderedDict(
        (k, v.clone()) for k, v in net.state_dict().items())
    tsd = collections.OrderedDict(
        (k, v.clone()) for k, v in teacher.state_dict().items())
    half = {k: v.half() if v.is_floating_point() else v
            for k, v in sd.items()}
    bf16 = {k: v.bfloat16() if v.is_floating_point() else v
            for k, v in sd.items()}
    # float64 values that float32 does not hold exactly
    f64 = {k: v.double() * (1 + 1e-9) if v.is_floating_point() else v
           for k, v in sd.items()}

    w = dacsref.TnsWriter(path('ref.tns'))
    w.frame('tgt.image', img)
    w.frame('ref.prob.f32', prob(net, sd, img))
    w.frame('ref.prob.f16', prob(net, half, img))
    w.frame('ref.prob.bf16', prob(net, bf16, img))
    w.frame('ref.prob.f64', prob(net, f64, img))
    w.frame('ref.prob.teacher', prob(teacher, tsd, img))
    w.end()
    w.close()

    save(sd, 'mini-zip.pth')
    save(sd, 'mini-legacy.pth', legacy=True)
    import_nets.save_safetensors(sd, path('mini.safetensors'),
                                 {'format': 'pt'})
    np.savez(path('mini.npz'), **{k: v.numpy() for k, v in sd.items()})
    save(collections.OrderedDict(half), 'mini-f16.pth')
    save(collections.OrderedDict(bf16), 'mini-bf16.pth')
    save(collections.OrderedDict(f64), 'mini-f64-legacy.pth', legacy=True)
    save(strided(sd), 'mini-strided.pth')

    opt = torch.optim.SGD(net.parameters(), lr=2.5e-4, momentum=0.9)
    net.train()
    net(dacsref.normalise(img)).sum().backward()
    opt.step()
    net.load_state_dict(sd)  # the values before the step
    save({'model': sd, 'optimizer': opt.state_dict(), 'iteration': 41},
         'mini-wrapped.pth')
    save({'state_dict': collections.OrderedDict(
        ('module.' + k, v) for k, v in sd.items()),
        'meta': {'epoch': 3, 'note': 'DataParallel'}}, 'mini-module.pth')
    save(collections.OrderedDict(('Scale.' + k, v) for k, v in sd.items()),
         'mini-scale-legacy.pth', legacy=True)
    config = {'model': 'DeepLab', 'training': {
        'batch_size': 2, 'learning_rate': 2.5e-4, 'unlabeled': {
            'pixel_weight': 'threshold_uniform', 'blur': True,
            'mix_mask': 'class'}}, 'seed': 5, 'pretrained': 'coco',
        'ignore_label': 250, 'utils': {'tensorboard': False,
                                       'save_checkpoint_every': 5000}}
    dacs = {'iteration': 41, 'optimizer': opt.state_dict(), 'config': config,
            'model': sd, 'ema_model': tsd}
    save(dacs, 'mini-dacs.pth')

    # refusals
    evil_zip('evil-os-system.pth',
             b'\x80\x02cos\nsystem\n' + binunicode('touch pwned') +
             b'\x85R.')
    evil_zip('evil-eval.pth',
             b'\x80\x04' + b'\x8c\x08builtins\x8c\x04eval\x93' +
             binunicode('print(1)') + b'\x85R.')

    class Posix:
        def __reduce__(self):
            return (os.system, ('touch pwned',))
    save({'x': Posix()}, 'evil-posix.pth', legacy=True)
    torch.manual_seed(1)
    torch.save(torch.nn.Linear(1, 1), path('module-pickled.pth'))
    b = open(path('mini-zip.pth'), 'rb').read()
    open(path('truncated-zip.pth'), 'wb').write(b[:len(b) // 2])
    b = open(path('mini-legacy.pth'), 'rb').read()
    open(path('truncated-legacy.pth'), 'wb').write(b[:len(b) - 100])
    # storage 0 (stem.0.conv.weight) holds 27 floats: give it 25
    zip_replace('mini-zip.pth', 'short-storage.pth', 'data/0', b'\0' * 100)
    save(collections.OrderedDict(x=torch.arange(10.0)[2:]), 'view.pth')
    with zipfile.ZipFile(path('view.pth')) as z:
        pkl = z.read([n for n in z.namelist() if n.endswith('data.pkl')][0])
    # the view's size 8 at offset 2 becomes 9: one element past the end
    assert pkl.count(b'K\x02K\x08\x85') == 1
    pkl = pkl.replace(b'K\x02K\x08\x85', b'K\x02K\t\x85')
    zip_replace('view.pth', 'view-past-end.pth', 'data.pkl', pkl)
    os.remove(path('view.pth'))
    import_nets.save_safetensors(
        {k: v for k, v in sd.items() if k != 'head.3.bias'},
        path('mini-missing.safetensors'))
    extra = collections.OrderedDict(sd)
    extra['aux.weight'] = torch.ones(3)
    import_nets.save_safetensors(extra, path('mini-extra.safetensors'))

    # key lists of real networks
    keys = os.path.join(OUT, 'keys')
    import_nets.key_list(torchvision.models.resnet101().state_dict(),
                         os.path.join(keys, 'resnet101-torchvision.txt'))
    dl = dacsref.DeepLabV2(101, classes=19).state_dict()
    import_nets.key_list(dl, os.path.join(keys, 'deeplabv2-r101.txt'))
    r50 = dacsref.DeepLabV2(50, classes=19).state_dict()
    mm = collections.OrderedDict()
    for k, v in r50.items():
        if k.startswith('layer5.'):
            continue
        mm['backbone.' + k] = v
    for i in range(4):
        for leaf in ('weight', 'bias'):
            mm['decode_head.aspp_modules.%d.conv.%s' % (i, leaf)] = \
                r50['layer5.conv2d_list.%d.%s' % (i, leaf)]
    import_nets.key_list(mm, os.path.join(keys, 'mmseg-r50-v1b-dlv2.txt'))
    v1c = collections.OrderedDict()
    stem = [(0, 3, 32), (3, 32, 32), (6, 32, 64)]
    for i, cin, cout in stem:
        v1c['backbone.stem.%d.weight' % i] = torch.zeros(cout, cin, 3, 3)
        bn = torch.nn.BatchNorm2d(cout).state_dict()
        for leaf, t in bn.items():
            v1c['backbone.stem.%d.%s' % (i + 1, leaf)] = t
    for k, v in mm.items():
        if k.startswith('backbone.conv1') or k.startswith('backbone.bn1'):
            continue
        if k.startswith('decode_head.aspp_modules.') and \
                k.split('.')[2] in ('2', '3'):
            continue
        v1c[k] = v
    import_nets.key_list(v1c, os.path.join(keys, 'mmseg-r50-v1c-dlv2red.txt'))
    seeds(sd)
    deeplabv2()
    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(OUT) for f in fs)
    print('wrote %s: %d bytes' % (OUT, total))


main()
