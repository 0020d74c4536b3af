"""dacsref - the deeplab-mini network of dacs in PyTorch, and a tns writer.

The network is the one defined in seg-init(1); its state_dict names are
the checkpoint frame names of dacs (plus PyTorch's num_batches_tracked
buffers, which dacs does not keep).  Used by make_net_fixture.py and by the
benchmark.  Needs only PyTorch and the standard library.
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


MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def normalise(img_u8, dtype=torch.float32):
    """(N,H,W,3) uint8 tensor -> (N,3,H,W) (x/255 - mean)/std"""
    x = img_u8.permute(0, 3, 1, 2).to(torch.float32) / 255.0
    m = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
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
