/* pickle_write.c - the few pickle opcodes torch.save's output needs
 * (protocol 2, the encodings of CPython's Lib/pickle.py); see pickle.h. */
#include "io/pickle.h"

#include <stdlib.h>
#include <string.h>

static void put(dx_pkw *w, const void *b, size_t n)
{
    if (w->failed)
        return;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < n)
            cap *= 2;
        unsigned char *nb = realloc(w->buf, cap);
        if (!nb) {
            w->failed = 1;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, b, n);
    w->len += n;
}

static void op(dx_pkw *w, unsigned char c)
{
    put(w, &c, 1);
}

static void le32(dx_pkw *w, uint32_t v)
{
    unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
                          v >> 24};
    put(w, b, 4);
}

void dx_pkw_init(dx_pkw *w)
{
    memset(w, 0, sizeof *w);
    unsigned char proto[2] = {0x80, 2};
    put(w, proto, 2);
}

void dx_pkw_none(dx_pkw *w)
{
    op(w, 'N');
}

void dx_pkw_bool(dx_pkw *w, int v)
{
    op(w, v ? 0x88 : 0x89);
}

void dx_pkw_int(dx_pkw *w, int64_t v)
{
    if (v >= 0 && v < 256) {
        unsigned char b[2] = {'K', (unsigned char)v};
        put(w, b, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        op(w, 'J');
        le32(w, (uint32_t)(int32_t)v);
    } else { /* LONG1 with 8 bytes: two's complement, little-endian */
        unsigned char b[10] = {0x8a, 8};
        uint64_t u = (uint64_t)v;
        for (int i = 0; i < 8; i++)
            b[2 + i] = (u >> (8 * i)) & 0xff;
        put(w, b, sizeof b);
    }
}

void dx_pkw_str(dx_pkw *w, const char *s)
{
    size_t n = strlen(s);
    /* BINUNICODE: protocol 2 has no short form for str */
    op(w, 'X');
    le32(w, (uint32_t)n);
    put(w, s, n);
}

void dx_pkw_mark(dx_pkw *w)
{
    op(w, '(');
}

void dx_pkw_tuple(dx_pkw *w)
{
    op(w, 't');
}

void dx_pkw_empty_tuple(dx_pkw *w)
{
    op(w, ')');
}

void dx_pkw_empty_dict(dx_pkw *w)
{
    op(w, '}');
}

void dx_pkw_setitems(dx_pkw *w)
{
    op(w, 'u');
}

void dx_pkw_global(dx_pkw *w, const char *module, const char *name)
{
    op(w, 'c');
    put(w, module, strlen(module));
    op(w, '\n');
    put(w, name, strlen(name));
    op(w, '\n');
}

void dx_pkw_reduce(dx_pkw *w)
{
    op(w, 'R');
}

void dx_pkw_binpersid(dx_pkw *w)
{
    op(w, 'Q');
}

void dx_pkw_ordered_dict(dx_pkw *w)
{
    dx_pkw_global(w, "collections", "OrderedDict");
    dx_pkw_empty_tuple(w);
    dx_pkw_reduce(w);
}

void dx_pkw_tensor(dx_pkw *w, int dtype, const char *key, int rank,
                   const int64_t *dims)
{
    int64_t numel = 1, stride[DX_TS_MAX_RANK];
    for (int i = rank - 1; i >= 0; i--) {
        stride[i] = numel;
        numel *= dims[i];
    }
    dx_pkw_global(w, "torch._utils", "_rebuild_tensor_v2");
    dx_pkw_mark(w);
    dx_pkw_mark(w); /* the persistent id */
    dx_pkw_str(w, "storage");
    dx_pkw_global(w, "torch", dx_ttype_torch(dtype));
    dx_pkw_str(w, key);
    dx_pkw_str(w, "cpu");
    dx_pkw_int(w, numel);
    dx_pkw_tuple(w);
    dx_pkw_binpersid(w);
    dx_pkw_int(w, 0); /* storage offset */
    dx_pkw_mark(w);
    for (int i = 0; i < rank; i++)
        dx_pkw_int(w, dims[i]);
    dx_pkw_tuple(w);
    dx_pkw_mark(w);
    for (int i = 0; i < rank; i++)
        dx_pkw_int(w, stride[i]);
    dx_pkw_tuple(w);
    dx_pkw_bool(w, 0);       /* requires_grad */
    dx_pkw_ordered_dict(w);  /* backward hooks */
    dx_pkw_tuple(w);
    dx_pkw_reduce(w);
}

int dx_pkw_finish(dx_pkw *w, dx_err *err)
{
    op(w, '.');
    if (w->failed) {
        dx_pkw_free(w);
        return dx_fail(err, "out of memory writing a pickle");
    }
    return 0;
}

void dx_pkw_free(dx_pkw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}
