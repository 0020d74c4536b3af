/* pickle.c - the data-only pickle reader; see pickle.h.
 *
 * The opcodes and their encodings are those of CPython's Lib/pickle.py
 * (documented opcode by opcode in Lib/pickletools.py); torch.save's
 * persistent ids and rebuild functions are those of PyTorch 1.13
 * (torch/serialization.py, torch/_utils.py).
 */
#include "io/pickle.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the arena ---- */

struct dx_pk_chunk {
    dx_pk_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN ((size_t)64 << 10)

static void *arena_alloc(dx_pickle *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    dx_pk_chunk *c = p->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = p->arena;
        p->arena = c;
    }
    void *r = c->data + c->used;
    c->used += n;
    memset(r, 0, n);
    return r;
}

void dx_pickle_free(dx_pickle *p)
{
    dx_pk_chunk *c = p->arena;
    while (c) {
        dx_pk_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(p, 0, sizeof *p);
}

/* ---- opcodes ---- */

static const struct opinfo {
    unsigned char code;
    const char *name;
    const char *refused; /* why, for the opcodes outside the set */
} OPS[] = {
    {'(', "MARK", NULL},
    {'.', "STOP", NULL},
    {'0', "POP", NULL},
    {'1', "POP_MARK", NULL},
    {'2', "DUP", NULL},
    {'F', "FLOAT", NULL},
    {'I', "INT", NULL},
    {'J', "BININT", NULL},
    {'K', "BININT1", NULL},
    {'L', "LONG", NULL},
    {'M', "BININT2", NULL},
    {'N', "NONE", NULL},
    {'P', "PERSID", "a text persistent id (torch.save writes BINPERSID)"},
    {'Q', "BINPERSID", NULL},
    {'R', "REDUCE", NULL},
    {'S', "STRING", "protocol-0 quoted text (torch.save never writes it)"},
    {'T', "BINSTRING", NULL},
    {'U', "SHORT_BINSTRING", NULL},
    {'V', "UNICODE", "protocol-0 escaped text (torch.save never writes it)"},
    {'X', "BINUNICODE", NULL},
    {'a', "APPEND", NULL},
    {'b', "BUILD", NULL},
    {'c', "GLOBAL", NULL},
    {'d', "DICT", NULL},
    {'}', "EMPTY_DICT", NULL},
    {'e', "APPENDS", NULL},
    {'g', "GET", NULL},
    {'h', "BINGET", NULL},
    {'i', "INST", "it instantiates a class"},
    {'j', "LONG_BINGET", NULL},
    {'l', "LIST", NULL},
    {']', "EMPTY_LIST", NULL},
    {'o', "OBJ", "it instantiates a class"},
    {'p', "PUT", NULL},
    {'q', "BINPUT", NULL},
    {'r', "LONG_BINPUT", NULL},
    {'s', "SETITEM", NULL},
    {'t', "TUPLE", NULL},
    {')', "EMPTY_TUPLE", NULL},
    {'u', "SETITEMS", NULL},
    {'G', "BINFLOAT", NULL},
    {0x80, "PROTO", NULL},
    {0x81, "NEWOBJ", "it instantiates a class"},
    {0x82, "EXT1", "it names a global through the extension registry"},
    {0x83, "EXT2", "it names a global through the extension registry"},
    {0x84, "EXT4", "it names a global through the extension registry"},
    {0x85, "TUPLE1", NULL},
    {0x86, "TUPLE2", NULL},
    {0x87, "TUPLE3", NULL},
    {0x88, "NEWTRUE", NULL},
    {0x89, "NEWFALSE", NULL},
    {0x8a, "LONG1", NULL},
    {0x8b, "LONG4", NULL},
    {'B', "BINBYTES", NULL},
    {'C', "SHORT_BINBYTES", NULL},
    {0x8c, "SHORT_BINUNICODE", NULL},
    {0x8d, "BINUNICODE8", NULL},
    {0x8e, "BINBYTES8", NULL},
    {0x8f, "EMPTY_SET", "sets are not part of a weights file"},
    {0x90, "ADDITEMS", "sets are not part of a weights file"},
    {0x91, "FROZENSET", "sets are not part of a weights file"},
    {0x92, "NEWOBJ_EX", "it instantiates a class"},
    {0x93, "STACK_GLOBAL", NULL},
    {0x94, "MEMOIZE", NULL},
    {0x95, "FRAME", NULL},
    {0x96, "BYTEARRAY8", "bytearrays are not part of a weights file"},
    {0x97, "NEXT_BUFFER", "out-of-band buffers are not part of a file"},
    {0x98, "READONLY_BUFFER", "out-of-band buffers are not part of a file"},
};

static const struct opinfo *opinfo(unsigned char c)
{
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (OPS[i].code == c)
            return &OPS[i];
    return NULL;
}

static const char *const KIND[DX_PV_END] = {
    [DX_PV_NONE] = "None",      [DX_PV_BOOL] = "bool",
    [DX_PV_INT] = "int",        [DX_PV_FLOAT] = "float",
    [DX_PV_STR] = "str",        [DX_PV_BYTES] = "bytes",
    [DX_PV_TUPLE] = "tuple",    [DX_PV_LIST] = "list",
    [DX_PV_DICT] = "dict",      [DX_PV_GLOBAL] = "global",
    [DX_PV_STORAGE] = "storage", [DX_PV_TENSOR] = "tensor"};

const char *dx_pv_kind_name(int kind)
{
    return kind >= 0 && kind < DX_PV_END ? KIND[kind] : "?";
}

dx_pv *dx_pv_get(const dx_pv *d, const char *key)
{
    if (!d || d->kind != DX_PV_DICT)
        return NULL;
    for (size_t k = 0; k < d->u.seq.n; k++) {
        const dx_pv *kv = d->u.seq.item[2 * k];
        if (kv->kind == DX_PV_STR && strcmp(kv->u.str.s, key) == 0)
            return d->u.seq.item[2 * k + 1];
    }
    return NULL;
}

/* ---- the machine ---- */

typedef struct vm {
    dx_pickle *p;
    const unsigned char *buf;
    size_t len, pos, at; /* at: offset of the opcode being run */
    const char *op;      /* its name */
    int flags;
    dx_err *err;
    dx_pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    dx_pv **memo;
    size_t memocap, nmemo; /* nmemo: slots set (MEMOIZE's next index) */
} vm;

/* "opcode NAME at byte N: " + message. */
__attribute__((format(printf, 2, 3))) static int fail(vm *m, const char *fmt,
                                                      ...)
{
    char msg[DX_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dx_fail(m->err, "pickle opcode %s at byte %zu: %s", m->op, m->at,
                   msg);
}

static dx_pv *node(vm *m, int kind)
{
    dx_pv *v = arena_alloc(m->p, sizeof *v);
    if (!v) {
        fail(m, "out of memory");
        return NULL;
    }
    v->kind = kind;
    m->p->nodes++;
    return v;
}

static int push(vm *m, dx_pv *v)
{
    if (!v)
        return -1;
    if (m->sp == m->scap) {
        if (m->scap >= DX_PK_MAX_STACK)
            return fail(m, "more than %d values on the stack",
                        DX_PK_MAX_STACK);
        size_t cap = m->scap ? 2 * m->scap : 256;
        dx_pv **s = realloc(m->stack, cap * sizeof *s);
        if (!s)
            return fail(m, "out of memory");
        m->stack = s;
        m->scap = cap;
    }
    m->stack[m->sp++] = v;
    return 0;
}

/* The stack floor: values below the last mark are out of reach. */
static size_t floor_(const vm *m)
{
    return m->nmarks ? m->marks[m->nmarks - 1] : 0;
}

static dx_pv *pop(vm *m)
{
    if (m->sp <= floor_(m)) {
        fail(m, "the stack is empty");
        return NULL;
    }
    return m->stack[--m->sp];
}

static dx_pv *top(vm *m)
{
    if (m->sp <= floor_(m)) {
        fail(m, "the stack is empty");
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Pop to the last mark; its items are stack[*from .. sp). */
static int pop_mark(vm *m, size_t *from)
{
    if (!m->nmarks)
        return fail(m, "no MARK to pop to");
    *from = m->marks[--m->nmarks];
    return 0;
}

/* Append item to a TUPLE, LIST or DICT (two calls per pair). */
static int seq_add(vm *m, dx_pv *c, dx_pv *item)
{
    size_t n = c->kind == DX_PV_DICT ? 2 * c->u.seq.n : c->u.seq.n;
    if (n == c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? 2 * c->u.seq.cap : 8;
        dx_pv **a = arena_alloc(m->p, cap * sizeof *a);
        if (!a)
            return fail(m, "out of memory");
        if (n)
            memcpy(a, c->u.seq.item, n * sizeof *a);
        c->u.seq.item = a;
        c->u.seq.cap = cap;
    }
    c->u.seq.item[n] = item;
    return 0;
}

static int list_add(vm *m, dx_pv *c, dx_pv *item)
{
    if (seq_add(m, c, item))
        return -1;
    c->u.seq.n++;
    return 0;
}

static int dict_add(vm *m, dx_pv *d, dx_pv *k, dx_pv *v)
{
    if (d->kind != DX_PV_DICT)
        return fail(m, "sets an item of a %s, expected a dict",
                    dx_pv_kind_name(d->kind));
    if (seq_add(m, d, k))
        return -1;
    d->u.seq.item[2 * d->u.seq.n + 1] = v;
    d->u.seq.n++;
    return 0;
}

/* A tuple or list of stack[from .. sp), which is then popped. */
static dx_pv *collect(vm *m, int kind, size_t from)
{
    dx_pv *c = node(m, kind);
    for (size_t i = from; c && i < m->sp; i++)
        if (list_add(m, c, m->stack[i]))
            return NULL;
    m->sp = from;
    return c;
}

static int need(vm *m, size_t n)
{
    if (n > m->len - m->pos)
        return fail(m, "needs %zu bytes, %zu left (truncated pickle)", n,
                    m->len - m->pos);
    return 0;
}

static uint64_t le(const unsigned char *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* Read n little-endian bytes as an unsigned length. */
static int arg_len(vm *m, int n, uint64_t *v)
{
    if (need(m, (size_t)n))
        return -1;
    *v = le(m->buf + m->pos, n);
    m->pos += (size_t)n;
    return 0;
}

/* A '\n'-terminated text argument of at most cap-1 bytes, into out. */
static int arg_line(vm *m, char *out, size_t cap)
{
    const unsigned char *s = m->buf + m->pos;
    size_t left = m->len - m->pos;
    const unsigned char *nl = memchr(s, '\n', left < cap ? left : cap);
    if (!nl)
        return fail(m, left < cap ? "text argument has no end of line "
                                    "(truncated pickle)"
                                  : "text argument longer than %zu bytes",
                    cap - 1);
    size_t n = (size_t)(nl - s);
    memcpy(out, s, n);
    out[n] = 0;
    if (strlen(out) != n)
        return fail(m, "text argument holds a NUL byte");
    m->pos += n + 1;
    return 0;
}

static dx_pv *str_node(vm *m, int kind, uint64_t n)
{
    if (need(m, n))
        return NULL;
    dx_pv *v = node(m, kind);
    if (!v)
        return NULL;
    char *s = arena_alloc(m->p, (size_t)n + 1);
    if (!s) {
        fail(m, "out of memory");
        return NULL;
    }
    memcpy(s, m->buf + m->pos, (size_t)n);
    s[n] = 0;
    m->pos += (size_t)n;
    v->u.str.s = s;
    v->u.str.len = (size_t)n;
    return v;
}

static dx_pv *int_node(vm *m, int64_t x)
{
    dx_pv *v = node(m, DX_PV_INT);
    if (v)
        v->u.i = x;
    return v;
}

/* Two's complement little-endian integer of n bytes (LONG1, LONG4). */
static dx_pv *long_node(vm *m, uint64_t n)
{
    if (n > 8) {
        fail(m, "integer of %llu bytes does not fit 64 bits",
             (unsigned long long)n);
        return NULL;
    }
    if (need(m, n))
        return NULL;
    uint64_t u = n ? le(m->buf + m->pos, (int)n) : 0;
    if (n && n < 8 && (m->buf[m->pos + n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n);
    m->pos += n;
    int64_t x;
    memcpy(&x, &u, sizeof x);
    return int_node(m, x);
}

/* Decimal text of INT, LONG, PUT and GET (an optional trailing 'L'). */
static int parse_decimal(vm *m, const char *s, int64_t *x)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end == 'L')
        end++;
    if (end == s || *end || errno)
        return fail(m, "'%.40s' is not a 64-bit decimal integer", s);
    *x = v;
    return 0;
}

/* ---- memo ---- */

static int memo_put(vm *m, uint64_t idx)
{
    if (idx >= DX_PK_MAX_MEMO)
        return fail(m, "memo index %llu is above the limit %d",
                    (unsigned long long)idx, DX_PK_MAX_MEMO);
    dx_pv *v = top(m);
    if (!v)
        return -1;
    if (idx >= m->memocap) {
        size_t cap = m->memocap ? m->memocap : 64;
        while (cap <= idx)
            cap *= 2;
        dx_pv **a = realloc(m->memo, cap * sizeof *a);
        if (!a)
            return fail(m, "out of memory");
        memset(a + m->memocap, 0, (cap - m->memocap) * sizeof *a);
        m->memo = a;
        m->memocap = cap;
    }
    m->nmemo += !m->memo[idx];
    m->memo[idx] = v;
    return 0;
}

static int memo_get(vm *m, uint64_t idx)
{
    if (idx >= m->memocap || !m->memo[idx])
        return fail(m, "memo slot %llu was never set",
                    (unsigned long long)idx);
    return push(m, m->memo[idx]);
}

/* ---- globals ---- */

/* A printable copy of s for messages. */
static void printable(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[i] = 0;
}

static dx_pv *lookup_global(vm *m, const char *mod, const char *name)
{
    static const struct {
        const char *mod, *name;
        int g;
    } ALLOWED[] = {
        {"collections", "OrderedDict", DX_G_ORDERED_DICT},
        {"torch._utils", "_rebuild_tensor_v2", DX_G_REBUILD_V2},
        {"torch._utils", "_rebuild_tensor", DX_G_REBUILD_V1},
        {"torch._utils", "_rebuild_parameter", DX_G_REBUILD_PARAM},
    };
    int g = -1, dtype = 0;
    for (size_t i = 0; i < sizeof ALLOWED / sizeof ALLOWED[0]; i++)
        if (!strcmp(mod, ALLOWED[i].mod) && !strcmp(name, ALLOWED[i].name))
            g = ALLOWED[i].g;
    if (g < 0 && !strcmp(mod, "torch") && (dtype = dx_ttype_from_torch(name)))
        g = DX_G_STORAGE;
    if (g < 0) {
        char pm[128], pn[128];
        printable(pm, sizeof pm, mod);
        printable(pn, sizeof pn, name);
        fail(m, "global '%s.%s' is refused: a weights file may name only "
             "collections.OrderedDict, torch.<type>Storage and "
             "torch._utils._rebuild_tensor_v2, _rebuild_tensor and "
             "_rebuild_parameter (nothing in the file is ever run)", pm, pn);
        return NULL;
    }
    dx_pv *v = node(m, DX_PV_GLOBAL);
    if (v) {
        v->u.glob.g = g;
        v->u.glob.dtype = dtype;
    }
    return v;
}

static const char *global_name(const dx_pv *v)
{
    switch (v->u.glob.g) {
    case DX_G_ORDERED_DICT:
        return "collections.OrderedDict";
    case DX_G_REBUILD_V2:
        return "torch._utils._rebuild_tensor_v2";
    case DX_G_REBUILD_V1:
        return "torch._utils._rebuild_tensor";
    case DX_G_REBUILD_PARAM:
        return "torch._utils._rebuild_parameter";
    default:
        return "a torch storage type";
    }
}

/* ---- REDUCE, BUILD, BINPERSID ---- */

static int is_empty_dict(const dx_pv *v)
{
    return v->kind == DX_PV_DICT && v->u.seq.n == 0 && !v->u.seq.attrs;
}

/* A tuple of non-negative ints of at most DX_TS_MAX_RANK items. */
static int int_tuple(vm *m, const dx_pv *v, const char *what, int64_t **out,
                     int *rank)
{
    if (v->kind != DX_PV_TUPLE)
        return fail(m, "tensor %s is a %s, expected a tuple", what,
                    dx_pv_kind_name(v->kind));
    if (v->u.seq.n > DX_TS_MAX_RANK)
        return fail(m, "tensor %s has %zu dims, at most %d are supported",
                    what, v->u.seq.n, DX_TS_MAX_RANK);
    int64_t *a = arena_alloc(m->p, (v->u.seq.n + 1) * sizeof *a);
    if (!a)
        return fail(m, "out of memory");
    for (size_t i = 0; i < v->u.seq.n; i++) {
        const dx_pv *x = v->u.seq.item[i];
        if (x->kind != DX_PV_INT || x->u.i < 0)
            return fail(m, "tensor %s item %zu is not a non-negative int",
                        what, i);
        a[i] = x->u.i;
    }
    *out = a;
    *rank = (int)v->u.seq.n;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks
 * [, metadata]) and _rebuild_tensor(storage, offset, size, stride). */
static dx_pv *rebuild_tensor(vm *m, const dx_pv *args, int v2)
{
    size_t n = args->u.seq.n;
    dx_pv *const *a = args->u.seq.item;
    if (v2 ? n != 6 && n != 7 : n != 4) {
        fail(m, "%s takes %s arguments, got %zu",
             v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor",
             v2 ? "6 or 7" : "4", n);
        return NULL;
    }
    if (a[0]->kind != DX_PV_STORAGE) {
        fail(m, "tensor storage is a %s, expected a persistent storage",
             dx_pv_kind_name(a[0]->kind));
        return NULL;
    }
    if (a[1]->kind != DX_PV_INT || a[1]->u.i < 0) {
        fail(m, "tensor storage offset is not a non-negative int");
        return NULL;
    }
    if (v2 && (a[4]->kind != DX_PV_BOOL ||
               !(is_empty_dict(a[5]) || a[5]->kind == DX_PV_NONE))) {
        fail(m, "tensor requires_grad must be a bool and its backward hooks "
             "an empty dict");
        return NULL;
    }
    if (v2 && n == 7 && !(is_empty_dict(a[6]) || a[6]->kind == DX_PV_NONE)) {
        fail(m, "tensor metadata must be empty");
        return NULL;
    }
    dx_pv *t = node(m, DX_PV_TENSOR);
    if (!t)
        return NULL;
    int rs, rt;
    if (int_tuple(m, a[2], "size", &t->u.t.size, &rs) ||
        int_tuple(m, a[3], "stride", &t->u.t.stride, &rt))
        return NULL;
    if (rs != rt) {
        fail(m, "tensor size has %d dims and stride %d", rs, rt);
        return NULL;
    }
    t->u.t.storage = a[0];
    t->u.t.offset = a[1]->u.i;
    t->u.t.rank = rs;
    return t;
}

static dx_pv *reduce(vm *m, const dx_pv *f, const dx_pv *args)
{
    if (f->kind != DX_PV_GLOBAL) {
        fail(m, "calls a %s, expected a global", dx_pv_kind_name(f->kind));
        return NULL;
    }
    if (args->kind != DX_PV_TUPLE) {
        fail(m, "arguments of %s are a %s, expected a tuple", global_name(f),
             dx_pv_kind_name(args->kind));
        return NULL;
    }
    switch (f->u.glob.g) {
    case DX_G_ORDERED_DICT:
        if (args->u.seq.n != 0) {
            fail(m, "collections.OrderedDict called with %zu argument%s, "
                 "expected none", args->u.seq.n,
                 args->u.seq.n > 1 ? "s" : "");
            return NULL;
        }
        return node(m, DX_PV_DICT);
    case DX_G_REBUILD_V2:
    case DX_G_REBUILD_V1:
        return rebuild_tensor(m, args, f->u.glob.g == DX_G_REBUILD_V2);
    case DX_G_REBUILD_PARAM: {
        dx_pv *const *a = args->u.seq.item;
        if (args->u.seq.n != 3 || a[0]->kind != DX_PV_TENSOR ||
            a[1]->kind != DX_PV_BOOL || !is_empty_dict(a[2])) {
            fail(m, "_rebuild_parameter takes (tensor, bool, empty dict)");
            return NULL;
        }
        dx_pv *t = node(m, DX_PV_TENSOR);
        if (t) {
            t->u.t = a[0]->u.t;
            t->u.t.param = 1;
        }
        return t;
    }
    default:
        fail(m, "calls %s, which is only a type tag", global_name(f));
        return NULL;
    }
}

static int build(vm *m)
{
    dx_pv *state = pop(m);
    dx_pv *obj = state ? top(m) : NULL;
    if (!obj)
        return -1;
    if (obj->kind != DX_PV_DICT || state->kind != DX_PV_DICT)
        return fail(m, "sets the state of a %s to a %s; only a dict's "
                    "attributes (a state_dict's _metadata) may be set",
                    dx_pv_kind_name(obj->kind), dx_pv_kind_name(state->kind));
    if (obj->u.seq.attrs)
        return fail(m, "sets the attributes of a dict twice");
    obj->u.seq.attrs = state;
    return 0;
}

static const char *text_of(const dx_pv *v)
{
    return v->kind == DX_PV_STR || v->kind == DX_PV_BYTES ? v->u.str.s
                                                          : NULL;
}

/* ('storage', torch.<T>Storage, key, location, numel[, None]) */
static dx_pv *persistent(vm *m, const dx_pv *pid)
{
    if (!(m->flags & DX_PK_TORCH)) {
        fail(m, "a persistent id outside a torch file's main pickle");
        return NULL;
    }
    dx_pv *const *a = pid->u.seq.item;
    size_t n = pid->kind == DX_PV_TUPLE ? pid->u.seq.n : 0;
    const char *tag = n ? text_of(a[0]) : NULL;
    if ((n != 5 && n != 6) || !tag || strcmp(tag, "storage") != 0) {
        fail(m, "persistent id is not ('storage', type, key, location, "
             "numel)");
        return NULL;
    }
    if (a[1]->kind != DX_PV_GLOBAL || a[1]->u.glob.g != DX_G_STORAGE) {
        fail(m, "persistent id's storage type is not a torch.<type>Storage");
        return NULL;
    }
    if (!text_of(a[2]) || !text_of(a[3]) || a[4]->kind != DX_PV_INT ||
        a[4]->u.i < 0) {
        fail(m, "persistent id's key, location or numel is malformed");
        return NULL;
    }
    if (n == 6 && a[5]->kind != DX_PV_NONE) {
        fail(m, "storage views (a legacy file before PyTorch 1.0) are not "
             "supported");
        return NULL;
    }
    dx_pv *s = node(m, DX_PV_STORAGE);
    if (s) {
        s->u.st.dtype = a[1]->u.glob.dtype;
        s->u.st.key = text_of(a[2]);
        s->u.st.location = text_of(a[3]);
        s->u.st.numel = a[4]->u.i;
    }
    return s;
}

/* ---- the loop ---- */

static int step(vm *m, unsigned char op, int *stop)
{
    char line[256];
    uint64_t n;
    int64_t x;
    dx_pv *v, *k;
    size_t from = 0;
    switch (op) {
    case 0x80: /* PROTO */
        if (need(m, 1))
            return -1;
        if (m->buf[m->pos] > 5)
            return fail(m, "protocol %d, expected 0..5", m->buf[m->pos]);
        m->pos++;
        return 0;
    case 0x95: /* FRAME: a length hint; the opcodes follow as usual */
        if (arg_len(m, 8, &n))
            return -1;
        return n > m->len - m->pos ? fail(m, "frame of %llu bytes, %zu left "
                                          "(truncated pickle)",
                                          (unsigned long long)n,
                                          m->len - m->pos)
                                   : 0;
    case '.':
        *stop = 1;
        return 0;
    case '(':
        if (m->nmarks == DX_PK_MAX_MARKS)
            return fail(m, "more than %d open marks", DX_PK_MAX_MARKS);
        if (m->nmarks == m->mcap) {
            size_t cap = m->mcap ? 2 * m->mcap : 64;
            size_t *a = realloc(m->marks, cap * sizeof *a);
            if (!a)
                return fail(m, "out of memory");
            m->marks = a;
            m->mcap = cap;
        }
        m->marks[m->nmarks++] = m->sp;
        return 0;
    case '0':
        return pop(m) ? 0 : -1;
    case '1':
        if (pop_mark(m, &from))
            return -1;
        m->sp = from;
        return 0;
    case '2':
        v = top(m);
        return v ? push(m, v) : -1;
    case 'N':
        return push(m, node(m, DX_PV_NONE));
    case 0x88:
    case 0x89:
        v = node(m, DX_PV_BOOL);
        if (v)
            v->u.i = op == 0x88;
        return push(m, v);
    case 'I':
        if (arg_line(m, line, 64))
            return -1;
        if (!strcmp(line, "00") || !strcmp(line, "01")) {
            v = node(m, DX_PV_BOOL);
            if (v)
                v->u.i = line[1] == '1';
            return push(m, v);
        }
        return parse_decimal(m, line, &x) ? -1 : push(m, int_node(m, x));
    case 'L':
        if (arg_line(m, line, 64) || parse_decimal(m, line, &x))
            return -1;
        return push(m, int_node(m, x));
    case 'J':
        if (arg_len(m, 4, &n))
            return -1;
        return push(m, int_node(m, (int32_t)(uint32_t)n));
    case 'K':
    case 'M':
        if (arg_len(m, op == 'K' ? 1 : 2, &n))
            return -1;
        return push(m, int_node(m, (int64_t)n));
    case 0x8a:
    case 0x8b:
        if (arg_len(m, op == 0x8a ? 1 : 4, &n))
            return -1;
        return push(m, long_node(m, n));
    case 'F': {
        if (arg_line(m, line, 64))
            return -1;
        char *end;
        double d = strtod(line, &end);
        if (end == line || *end)
            return fail(m, "'%s' is not a float", line);
        v = node(m, DX_PV_FLOAT);
        if (v)
            v->u.f = d;
        return push(m, v);
    }
    case 'G': { /* big-endian IEEE double */
        if (need(m, 8))
            return -1;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = u << 8 | m->buf[m->pos + i];
        m->pos += 8;
        v = node(m, DX_PV_FLOAT);
        if (v)
            memcpy(&v->u.f, &u, sizeof u);
        return push(m, v);
    }
    case 'X':
    case 'T':
    case 'B':
        if (arg_len(m, 4, &n))
            return -1;
        if (op == 'T' && n > INT32_MAX)
            return fail(m, "negative length");
        return push(m, str_node(m, op == 'B' ? DX_PV_BYTES : DX_PV_STR, n));
    case 0x8c:
    case 'U':
    case 'C':
        if (arg_len(m, 1, &n))
            return -1;
        return push(m, str_node(m, op == 'C' ? DX_PV_BYTES : DX_PV_STR, n));
    case 0x8d:
    case 0x8e:
        if (arg_len(m, 8, &n))
            return -1;
        return push(m, str_node(m, op == 0x8e ? DX_PV_BYTES : DX_PV_STR, n));
    case ')':
        return push(m, node(m, DX_PV_TUPLE));
    case ']':
        return push(m, node(m, DX_PV_LIST));
    case '}':
        return push(m, node(m, DX_PV_DICT));
    case 't':
    case 'l':
        if (pop_mark(m, &from))
            return -1;
        return push(m, collect(m, op == 't' ? DX_PV_TUPLE : DX_PV_LIST,
                               from));
    case 0x85:
    case 0x86:
    case 0x87: {
        size_t cnt = (size_t)(op - 0x84);
        if (m->sp < floor_(m) + cnt)
            return fail(m, "needs %zu values on the stack", cnt);
        return push(m, collect(m, DX_PV_TUPLE, m->sp - cnt));
    }
    case 'd':
        if (pop_mark(m, &from))
            return -1;
        if ((m->sp - from) % 2)
            return fail(m, "odd number of values for a dict");
        v = node(m, DX_PV_DICT);
        for (size_t i = from; v && i < m->sp; i += 2)
            if (dict_add(m, v, m->stack[i], m->stack[i + 1]))
                return -1;
        m->sp = from;
        return push(m, v);
    case 'a':
        v = pop(m);
        k = v ? top(m) : NULL;
        if (!k)
            return -1;
        if (k->kind != DX_PV_LIST)
            return fail(m, "appends to a %s, expected a list",
                        dx_pv_kind_name(k->kind));
        return list_add(m, k, v);
    case 'e':
        if (pop_mark(m, &from))
            return -1;
        if (from == floor_(m))
            return fail(m, "no list below the mark");
        k = m->stack[from - 1];
        if (k->kind != DX_PV_LIST)
            return fail(m, "appends to a %s, expected a list",
                        dx_pv_kind_name(k->kind));
        for (size_t i = from; i < m->sp; i++)
            if (list_add(m, k, m->stack[i]))
                return -1;
        m->sp = from;
        return 0;
    case 's': {
        v = pop(m);
        k = v ? pop(m) : NULL;
        dx_pv *d = k ? top(m) : NULL;
        return d ? dict_add(m, d, k, v) : -1;
    }
    case 'u':
        if (pop_mark(m, &from))
            return -1;
        if (from == floor_(m))
            return fail(m, "no dict below the mark");
        if ((m->sp - from) % 2)
            return fail(m, "odd number of values for a dict");
        for (size_t i = from; i < m->sp; i += 2)
            if (dict_add(m, m->stack[from - 1], m->stack[i],
                         m->stack[i + 1]))
                return -1;
        m->sp = from;
        return 0;
    case 'p':
        if (arg_line(m, line, 64) || parse_decimal(m, line, &x))
            return -1;
        return x < 0 ? fail(m, "negative memo index") : memo_put(m, (uint64_t)x);
    case 'q':
    case 'r':
        if (arg_len(m, op == 'q' ? 1 : 4, &n))
            return -1;
        return memo_put(m, n);
    case 0x94:
        /* MEMOIZE: index len(memo), as Python counts it */
        return memo_put(m, m->nmemo);
    case 'g':
        if (arg_line(m, line, 64) || parse_decimal(m, line, &x))
            return -1;
        return x < 0 ? fail(m, "negative memo index") : memo_get(m, (uint64_t)x);
    case 'h':
    case 'j':
        if (arg_len(m, op == 'h' ? 1 : 4, &n))
            return -1;
        return memo_get(m, n);
    case 'c': {
        char mod[256];
        if (arg_line(m, mod, sizeof mod) || arg_line(m, line, sizeof line))
            return -1;
        return push(m, lookup_global(m, mod, line));
    }
    case 0x93:
        v = pop(m);
        k = v ? pop(m) : NULL;
        if (!k)
            return -1;
        if (k->kind != DX_PV_STR || v->kind != DX_PV_STR)
            return fail(m, "module and name must be strings");
        return push(m, lookup_global(m, k->u.str.s, v->u.str.s));
    case 'R':
        v = pop(m);
        k = v ? pop(m) : NULL;
        return k ? push(m, reduce(m, k, v)) : -1;
    case 'b':
        return build(m);
    case 'Q':
        v = pop(m);
        return v ? push(m, persistent(m, v)) : -1;
    default:
        return fail(m, "unknown opcode");
    }
}

int dx_pickle_load(dx_pickle *p, const unsigned char *buf, size_t len,
                   int flags, dx_err *err)
{
    memset(p, 0, sizeof *p);
    vm m = {.p = p, .buf = buf, .len = len, .flags = flags, .err = err};
    int stop = 0, rc = -1;
    while (!stop) {
        if (m.pos >= len) {
            dx_fail(err, "pickle ends at byte %zu without STOP (truncated)",
                    len);
            goto out;
        }
        m.at = m.pos;
        unsigned char op = buf[m.pos++];
        const struct opinfo *oi = opinfo(op);
        char unk[16];
        if (!oi) {
            snprintf(unk, sizeof unk, "0x%02x", op);
            m.op = unk;
            fail(&m, "not a pickle opcode");
            goto out;
        }
        m.op = oi->name;
        if (oi->refused) {
            fail(&m, "refused: %s", oi->refused);
            goto out;
        }
        if (step(&m, op, &stop))
            goto out;
    }
    if (m.nmarks || m.sp != 1) {
        fail(&m, "%zu values and %zu marks left on the stack, expected one "
             "value", m.sp, m.nmarks);
        goto out;
    }
    p->root = m.stack[0];
    p->used = m.pos;
    rc = 0;
out:
    free(m.stack);
    free(m.marks);
    free(m.memo);
    if (rc)
        dx_pickle_free(p);
    return rc;
}
