"""dacsref - the networks of dacs in PyTorch, and a tns writer.

The networks are the ones defined in seg-init(1): deeplab-mini (Net) and
DeepLabv2 on a dilated ResNet (DeepLabV2, as the DACS code builds it).
Their state_dict names are the checkpoint frame names of dacs (plus
PyTorch's num_batches_tracked buffers, which dacs does not keep).  Used by
make_net_fixture.py and by the benchmark.  Needs only PyTorch and the
standard library.
"""
import struct
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBN(nn.Module):
    """conv3x3 (no bias) + BN + ReLU"""

    def __init__(self, cin, cout, stride=1, dil=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, dil, dil, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Res(nn.Module):
    """residual block (c, d): conv BN ReLU conv BN, + input, ReLU"""

    def __init__(self, c, dil):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, 1, dil, dil, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, dil, dil, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + x)


class Stage(nn.Module):
    def __init__(self, cin, cout, dils):
        super().__init__()
        self.down = ConvBN(cin, cout, 2)
        for i, d in enumerate(dils):
            self.add_module('res%d' % i, Res(cout, d))
        self.n = len(dils)

    def forward(self, x):
        x = self.down(x)
        for i in range(self.n):
            x = getattr(self, 'res%d' % i)(x)
        return x


class Net(nn.Module):
    """deeplab-mini: takes normalised (N,3,H,W), returns logits (N,C,H,W)
    upsampled with align_corners=True."""

    def __init__(self, width=32, classes=19):
        super().__init__()
        w = width
        self.stem = nn.Sequential(ConvBN(3, w, 2), ConvBN(w, w))
        self.s2 = Stage(w, 2 * w, [1])
        self.s3 = Stage(2 * w, 4 * w, [2, 4])
        self.head = nn.ModuleList(
            [nn.Conv2d(4 * w, classes, 3, 1, d, d) for d in (1, 2, 4, 6)])

    def low(self, x):
        """the logits before upsampling"""
        f = self.s3(self.s2(self.stem(x)))
        return sum(h(f) for h in self.head)

    def forward(self, x):
        return F.interpolate(self.low(x), size=x.shape[2:], mode='bilinear',
                             align_corners=True)


class Bottleneck(nn.Module):
    """1x1, 3x3 (dilated), 1x1 (4x planes), each with BN; the residual
    (a projection on block 0) added before the last ReLU.  caffe: the
    stride in conv1 (the 1x1), else in conv2 (torchvision v1.5)."""

    def __init__(self, cin, planes, stride, dil, caffe, proj):
        super().__init__()
        out = 4 * planes
        self.conv1 = nn.Conv2d(cin, planes, 1, stride if caffe else 1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1 if caffe else stride,
                               dil, dil, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = nn.Sequential(
            nn.Conv2d(cin, out, 1, stride, bias=False),
            nn.BatchNorm2d(out)) if proj else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample else x))


class Basic(nn.Module):
    """two 3x3 convs at the layer's dilation, the stride in the first"""

    def __init__(self, cin, planes, stride, dil, caffe, proj):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, dil, dil, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, dil, dil, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(
            nn.Conv2d(cin, planes, 1, stride, bias=False),
            nn.BatchNorm2d(planes)) if proj else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample else x))


class Classifier(nn.Module):
    """DeepLab's ASPP: biased 3x3 convs at dilations 6, 12, 18, 24; the
    first `heads` summed (the DACS code sums two)"""

    def __init__(self, cin, classes, heads):
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            [nn.Conv2d(cin, classes, 3, 1, d, d) for d in (6, 12, 18, 24)])
        self.heads = heads

    def forward(self, x):
        return sum(self.conv2d_list[k](x) for k in range(self.heads))


DEPTHS = {18: (Basic, (2, 2, 2, 2)), 34: (Basic, (3, 4, 6, 3)),
          50: (Bottleneck, (3, 4, 6, 3)), 101: (Bottleneck, (3, 4, 23, 3)),
          152: (Bottleneck, (3, 8, 36, 3))}


class DeepLabV2(nn.Module):
    """DeepLabv2 on a ResNet with output stride 8 (layer3 dilation 2,
    layer4 dilation 4, in every block): takes normalised (N,3,H,W) in the
    network's channel order, returns the logits at 1/8 (low) or upsampled
    with align_corners=True (forward).  frozen: BN weight and bias do not
    require gradients (DACS)."""

    def __init__(self, depth=101, blocks=None, width=64, style='caffe',
                 heads=2, frozen=True, classes=19):
        super().__init__()
        block, default = DEPTHS[depth]
        blocks = blocks or default
        caffe = style == 'caffe'
        w = width
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.maxpool = nn.MaxPool2d(3, 2, 1, ceil_mode=caffe)
        cin = w
        for L in range(1, 5):
            planes = w << (L - 1)
            stride, dil = (2 if L == 2 else 1), {3: 2, 4: 4}.get(L, 1)
            out = planes * (4 if block is Bottleneck else 1)
            layers = []
            for b in range(blocks[L - 1]):
                s = stride if b == 0 else 1
                proj = b == 0 and (s != 1 or cin != out or dil > 1)
                layers.append(block(cin, planes, s, dil, caffe, proj))
                cin = out
            self.add_module('layer%d' % L, nn.Sequential(*layers))
        self.layer5 = Classifier(cin, classes, heads)
        if frozen:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    for p in m.parameters():
                        p.requires_grad = False

    def low(self, x):
        """the logits before upsampling"""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for L in range(1, 6):
            x = getattr(self, 'layer%d' % L)(x)
        return x

    def forward(self, x):
        return F.interpolate(self.low(x), size=x.shape[2:], mode='bilinear',
                             align_corners=True)


MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


CAFFE_MEAN = tuple(v / 255 for v in (104.00698793, 116.66876762,
                                     122.67891434))
CAFFE_STD = (1 / 255,) * 3


def randomise(net, g, is_head=lambda name: False):
    """Fill net from generator g, as the fixtures do: conv weights
    He-uniform, batch-norm weights in [0.5, 1.5), head biases (is_head) in
    [-0.1, 0.1), other biases in [-0.2, 0.2), running means in [-0.3, 0.3)
    and variances in [0.5, 2)."""
    def urand(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 4:
                fan = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(urand(p.shape, -1, 1) * (6.0 / fan) ** 0.5)
            elif name.endswith('bias') and is_head(name):
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


def normalise(img_u8, dtype=torch.float32, mean=MEAN, std=STD, bgr=False):
    """(N,H,W,3) uint8 RGB tensor -> (N,3,H,W) (x/255 - mean)/std in
    float32, channels reversed first if bgr (mean and std are then in
    B,G,R order)"""
    x = img_u8.permute(0, 3, 1, 2).to(torch.float32) / 255.0
    if bgr:
        x = x.flip(1)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((x - m) / s).to(dtype)


# ---- tns: the layout of lib/io/tns.c (see tns(5)) ----

MAGIC = b'\x89TNS'
DTYPES = {'u8': 1, 'u16': 2, 'i32': 3, 'f32': 4}
TORCH_DTYPES = {torch.uint8: 'u8', torch.int32: 'i32', torch.float32: 'f32'}


class TnsWriter:
    def __init__(self, path):
        self.f = open(path, 'wb')
        self.count = 0

    def frame(self, name, t):
        """t: a CPU tensor of uint8, int32 or float32 (others refused)"""
        t = t.detach().contiguous()
        dt = TORCH_DTYPES[t.dtype]
        nm = name.encode()
        h = MAGIC + bytes([1, ord('F')]) + b'\0\0'
        h += bytes([DTYPES[dt], t.dim()]) + struct.pack('<H', len(nm))
        h += b''.join(struct.pack('<Q', d) for d in t.shape) + nm
        payload = t.numpy().tobytes()
        self.f.write(h + struct.pack('<I', zlib.crc32(h)))
        self.f.write(payload + struct.pack('<I', zlib.crc32(payload)))
        self.count += 1

    def text(self, name, s):
        self.frame(name, torch.tensor(list(s.encode()), dtype=torch.uint8))

    def end(self, final=True):
        """close a segment; the last one of a stream is final (tns(5))"""
        b = MAGIC + bytes([1, ord('E'), 1 if final else 0, 0])
        b += struct.pack('<Q', self.count)
        self.f.write(b + struct.pack('<I', zlib.crc32(b)))
        self.count = 0

    def close(self):
        self.f.close()
