"""import_nets - helpers for the import fixtures: random weights for a
PyTorch module, key lists and safetensors files.  The networks themselves
(deeplab-mini and the DeepLabv2-ResNet of the DACS code) are in
dacsref.py.  Needs only PyTorch and the standard library.
"""
import struct

import torch


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


class _StableKeys:
    """a pickle module for torch.save's legacy format whose storage keys
    are 0, 1, 2... in the order the storages are first met, instead of
    their memory addresses (str(storage._cdata), torch 1.13
    serialization._legacy_save), so that the same object gives the same
    bytes on every run"""

    __name__ = 'pickle'

    def __init__(self):
        import pickle
        self.pickle = pickle
        self.keys = {}
        outer = self

        class Pickler:
            """pickle.Pickler, its persistent ids' storage keys renamed"""

            def __init__(self, f, protocol):
                self.p = pickle.Pickler(f, protocol=protocol)

            def __setattr__(self, name, f):
                if name != 'persistent_id':
                    return object.__setattr__(self, name, f)

                def pid(obj):
                    r = f(obj)
                    if isinstance(r, tuple) and r[0] == 'storage':
                        assert r[5] is None  # no storage views (torch >= 1.6)
                        key = outer.keys.setdefault(r[2], str(len(outer.keys)))
                        r = r[:2] + (key,) + r[3:]
                    return r
                self.p.persistent_id = pid

            def dump(self, obj):
                self.p.dump(obj)

        self.Pickler = Pickler

    def dump(self, obj, f, protocol):
        if isinstance(obj, list) and obj and all(k in self.keys for k in obj):
            obj = [self.keys[k] for k in obj]
        self.pickle.dump(obj, f, protocol=protocol)


def save_legacy(obj, path):
    """torch.save(obj, path) in the legacy (torch < 1.6) format, the same
    bytes on every run: the storage keys by _StableKeys, the storages
    written in the order they are first met (torch sorts them by their
    address keys: `sorted` of torch.serialization is made to keep the
    dict's order for the call)"""
    import torch.serialization as ts
    ts.sorted = list
    try:
        torch.save(obj, path, pickle_module=_StableKeys(),
                   _use_new_zipfile_serialization=False)
    finally:
        del ts.sorted
