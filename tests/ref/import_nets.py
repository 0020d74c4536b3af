"""import_nets - PyTorch modules whose state_dict names seg-import and
seg-export map: the DeepLabv2-ResNet of the DACS and AdaptSegNet code, and
helpers that write key lists and safetensors files.  Needs only PyTorch and
the standard library (this is our own code, written from the network's
description in seg-init(1) and dacs(7), not a copy of theirs).

DeepLabv2 (caffe style, as DACS uses it):
  conv1 7x7/2 (3->w), bn1, ReLU, max-pool 3x3/2 pad 1 ceil_mode;
  layer1..4 of bottlenecks (planes w, 2w, 4w, 8w; expansion 4), the stride
  of layer2's first block in its 1x1 conv1, layer3/layer4 with dilation
  2/4 in every block and no stride; block 0 of each layer has a
  projection (downsample.0 conv 1x1, downsample.1 BN);
  layer5.conv2d_list.{0..3}: 3x3 convs with bias at dilation 6, 12, 18,
  24 of which the first `heads` are summed (2 in the DACS code).
"""
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride=1, dilation=1, down=False):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, dilation, dilation,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = nn.Sequential(
            nn.Conv2d(cin, out, 1, stride, bias=False),
            nn.BatchNorm2d(out)) if down else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        r = self.downsample(x) if self.downsample is not None else x
        return F.relu(y + r)


class Head(nn.Module):
    def __init__(self, cin, classes, heads=2):
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            [nn.Conv2d(cin, classes, 3, 1, d, d) for d in (6, 12, 18, 24)])
        self.heads = heads

    def forward(self, x):
        return sum(self.conv2d_list[k](x) for k in range(self.heads))


class DeepLabV2(nn.Module):
    """takes (N,3,H,W) as normalised for it, returns the logits at 1/8"""

    def __init__(self, blocks=(3, 4, 23, 3), width=64, classes=19, heads=2):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        cin = w
        spec = [(w, 1, 1), (2 * w, 2, 1), (4 * w, 1, 2), (8 * w, 1, 4)]
        for i, (planes, stride, dil) in enumerate(spec):
            layer = []
            for b in range(blocks[i]):
                layer.append(Bottleneck(cin, planes, stride if b == 0 else 1,
                                        dil, down=b == 0))
                cin = planes * 4
            setattr(self, 'layer%d' % (i + 1), nn.Sequential(*layer))
        self.layer5 = Head(cin, classes, heads)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        for i in range(1, 5):
            x = getattr(self, 'layer%d' % i)(x)
        return self.layer5(x)


def randomise(net, g):
    """random weights and batch-norm statistics from the generator g (the
    defaults of a new module would hide a mixed-up BN tensor): He-uniform
    convolutions, BN weight in [0.5, 1.5), biases in [-0.2, 0.2), running
    mean in [-0.3, 0.3), variance in [0.5, 2), a batch count in [1, 1000);
    returns net in eval mode"""
    def urand(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 4:
                p.copy_(urand(p.shape, -1, 1) * (6.0 / (p.shape[1] * 9)) ** .5)
            elif name.endswith('weight'):
                p.copy_(urand(p.shape, 0.5, 1.5))
            else:
                p.copy_(urand(p.shape, -0.2, 0.2))
        for name, b in net.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(urand(b.shape, -0.3, 0.3))
            elif name.endswith('running_var'):
                b.copy_(urand(b.shape, 0.5, 2.0))
            else:
                b.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
    return net.eval()


def key_list(sd, path, prefix=''):
    """one line per tensor: prefix+name, then its dims (none for a
    scalar), blank-separated"""
    with open(path, 'w') as f:
        for k, v in sd.items():
            f.write(' '.join([prefix + k] + [str(d) for d in v.shape]) + '\n')


ST_DTYPES = {torch.float32: 'F32', torch.float16: 'F16',
             torch.bfloat16: 'BF16', torch.float64: 'F64',
             torch.int64: 'I64'}


def save_safetensors(tensors, path, metadata=None):
    """the safetensors layout: u64 header length, JSON, data (our own
    writer: no safetensors package is needed)"""
    import json
    head, blobs, at = {}, [], 0
    if metadata:
        head['__metadata__'] = metadata
    for k, v in tensors.items():
        v = v.detach().contiguous()
        b = v.view(torch.uint8).numpy().tobytes() if v.dim() else \
            v.reshape(1).view(torch.uint8).numpy().tobytes()
        head[k] = {'dtype': ST_DTYPES[v.dtype], 'shape': list(v.shape),
                   'data_offsets': [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(head, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
