/* tensorset.h - the named tensors of a foreign weights file (PyTorch .pth
 * and .pt in the zip or the legacy format, safetensors, NumPy .npz) in one
 * neutral in-memory form, and the dispatch to each format's reader and
 * writer.
 *
 * A tensor set is a list of entries in file order.  Each entry has a
 * dotted name: the path of dict keys down to it, joined with '.', so that
 * a DACS training checkpoint {'model': state_dict, 'ema_model':
 * state_dict, 'iteration': 7, ...} gives "model.conv1.weight",
 * "ema_model.conv1.weight", "iteration", and a DataParallel state_dict
 * gives "module.conv1.weight".  Integer dict keys (an optimizer's state)
 * are written in decimal, list and tuple items by their index.  group is
 * the path of the dict that holds the entry ("" at the top level): the
 * writers rebuild the nesting from it.
 *
 * Entries are tensors (rank 0..DX_TS_MAX_RANK, row-major dims) or the
 * scalars found beside them (int, float, bool, str, None), so that a
 * listing shows everything and an importer finds the iteration count.
 * Float tensors (f32, f16, bf16, f64) are converted to f32 in f; integer
 * and bool tensors to int64 in i; dtype says what the file held.  A set
 * read with DX_TS_LIST has the shapes only (f and i NULL), without
 * touching the tensor data, but with every size and extent checked.
 *
 * Every reader validates before it allocates: header lengths, counts,
 * offsets, strides and storage extents against the file's size, with
 * overflow checks; a file is refused with one line naming what was wrong.
 * Only little-endian files are read and written (as PyTorch and
 * safetensors write them).
 */
#ifndef DACS_TENSORSET_H
#define DACS_TENSORSET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define DX_TS_MAX_RANK 8
/* Names longer than this are refused. */
#define DX_TS_MAX_NAME 1024
/* A file larger than this is refused before it is read (16 GiB). */
#define DX_TS_MAX_FILE ((uint64_t)1 << 34)

/* Element types of the files.  One table in tensorset.c gives each its
 * size and its names in PyTorch, safetensors and NumPy. */
enum dx_ttype {
    DX_TT_F32 = 1,
    DX_TT_F16,
    DX_TT_BF16,
    DX_TT_F64,
    DX_TT_I64,
    DX_TT_I32,
    DX_TT_I16,
    DX_TT_I8,
    DX_TT_U8,
    DX_TT_BOOL,
    DX_TT_END
};

size_t dx_ttype_size(int t);            /* bytes per element; 0: unknown */
const char *dx_ttype_name(int t);       /* "f32", "bf16", ...; "?" */
int dx_ttype_is_float(int t);
/* torch.<name> of the typed storage: "FloatStorage", ...; lookups by
 * name return the type or 0. */
const char *dx_ttype_torch(int t);
int dx_ttype_from_torch(const char *storage_name);
const char *dx_ttype_safetensors(int t); /* "F32", "BF16", ... */
int dx_ttype_from_safetensors(const char *s);
const char *dx_ttype_npy(int t);         /* "<f4", "|b1", ...; NULL: none */
int dx_ttype_from_npy(const char *descr);

/* Convert count elements of type t at src (little-endian, any alignment)
 * to f32 (float types) or int64 (integer and bool types). */
void dx_ttype_to_f32(float *dst, const void *src, int t, size_t count);
void dx_ttype_to_i64(int64_t *dst, const void *src, int t, size_t count);

enum dx_tentry_kind {
    DX_TE_TENSOR,
    DX_TE_INT,   /* a Python int: i[0] */
    DX_TE_FLOAT, /* x */
    DX_TE_BOOL,  /* i[0] 0 or 1 */
    DX_TE_STR,   /* s */
    DX_TE_NONE,
    DX_TE_END
};

typedef struct dx_tentry {
    char *name;   /* the dotted path */
    char *group;  /* the path of the dict holding it; "" at the top */
    int kind;
    int dtype;    /* DX_TE_TENSOR: the element type in the file */
    int rank;
    int64_t dims[DX_TS_MAX_RANK];
    size_t count; /* elements: product of dims; 1 for scalars */
    float *f;     /* float tensors, converted; NULL in a listing */
    int64_t *i;   /* integer and bool tensors; INT and BOOL scalars */
    double x;     /* FLOAT */
    char *s;      /* STR */
} dx_tentry;

/* File formats. */
enum dx_tformat {
    DX_TF_NONE,
    DX_TF_TORCH,        /* PyTorch zip (torch.save since 1.6) */
    DX_TF_TORCH_LEGACY, /* PyTorch before 1.6: pickles, then storages */
    DX_TF_SAFETENSORS,
    DX_TF_NPZ,
    DX_TF_END
};

const char *dx_tformat_name(int f); /* "pytorch zip", ... */

typedef struct dx_tset {
    int format;
    int n, cap;
    dx_tentry *v;
} dx_tset;

/* Reader flags. */
enum {
    DX_TS_LIST = 1 /* shapes only: no tensor data is converted */
};

void dx_tset_init(dx_tset *ts);
void dx_tset_free(dx_tset *ts);
/* Append an entry (all fields zero but name, group and kind) and return
 * it, or NULL with err set.  Names must be 1..DX_TS_MAX_NAME bytes of
 * printable ASCII or UTF-8, without control characters. */
dx_tentry *dx_tset_add(dx_tset *ts, const char *group, const char *name,
                       int kind, dx_err *err);
/* Set a tensor entry's dtype and shape, checking rank and the element
 * count against max_bytes (the data the file can hold; overflow safe). */
int dx_tentry_shape(dx_tentry *e, int dtype, int rank, const int64_t *dims,
                    uint64_t max_bytes, dx_err *err);
/* Allocate e->f or e->i for e's count and type. */
int dx_tentry_alloc(dx_tentry *e, dx_err *err);
/* Index of the entry called name, or -1. */
int dx_tset_find(const dx_tset *ts, const char *name);
/* "3x64x7x7", or "scalar" for rank 0; returns buf. */
char *dx_tentry_shape_str(const dx_tentry *e, char *buf, size_t cap);

/* The format of a file from its first bytes (a zip is told apart as
 * PyTorch or NumPy by its entries), or DX_TF_NONE. */
int dx_tformat_sniff(const unsigned char *buf, size_t len);
/* The format an output path asks for by its extension: .pth .pt .bin ->
 * DX_TF_TORCH, .safetensors, .npz; DX_TF_NONE otherwise. */
int dx_tformat_of_path(const char *path);

/* Read a whole file in memory (name is for messages). */
int dx_tset_read_mem(dx_tset *ts, const unsigned char *buf, size_t len,
                     const char *name, int flags, dx_err *err);
/* Read path (a regular file). */
int dx_tset_read(dx_tset *ts, const char *path, int flags, dx_err *err);
/* Write ts to path atomically in format (DX_TF_TORCH, DX_TF_SAFETENSORS or
 * DX_TF_NPZ).  Tensors must be f32 (f) or int64 (i); scalars INT and
 * FLOAT are written where the format allows (as 0-d tensors in
 * safetensors and .npz), other scalars are an error. */
int dx_tset_write(const dx_tset *ts, const char *path, int format,
                  dx_err *err);

#endif
