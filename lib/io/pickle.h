/* pickle.h - Python pickles as PyTorch writes them: a reader that builds
 * data only, and a small writer.
 *
 * The reader is a pickle virtual machine (the protocol of CPython's
 * Lib/pickle.py, protocols 0 to 5) restricted to the opcodes that build
 * plain data, and to the few globals PyTorch's own files name.  It builds
 * a tree of dx_pv values:
 *
 *   None, True/False, int (int64), float, str (UTF-8 as stored), bytes,
 *   tuple, list, dict (keys and values in file order; collections.
 *   OrderedDict reads as a dict, and BUILD with a dict state, the
 *   `_metadata` of a state_dict, is kept as the dict's attrs),
 *   storage      a persistent id ('storage', torch.<T>Storage, key,
 *                location, numel[, None]) of torch.save (with DX_PK_TORCH)
 *   tensor       torch._utils._rebuild_tensor_v2(storage, offset, size,
 *                stride, requires_grad, hooks[, metadata]), the older
 *                _rebuild_tensor(storage, offset, size, stride), and
 *                _rebuild_parameter(tensor, requires_grad, hooks)
 *
 * Nothing is ever called: a global is looked up in a fixed table of names
 * and anything else (os.system, builtins.eval, subprocess.Popen, numpy
 * functions, any class) is refused with an error naming it, as is every
 * opcode outside the set (INST, OBJ, NEWOBJ, EXT*, PERSID, buffers, sets)
 * and every REDUCE or BUILD whose arguments do not have the shapes above.
 * The stack, the mark stack, the memo and the rank of a tensor are bounded;
 * every length is checked against the bytes left before it is used.
 *
 * Values live in an arena owned by the dx_pickle and freed with it; the
 * memo may make a value appear twice, or inside itself, so a consumer
 * that walks the tree must bound its depth (DX_PK_MAX_DEPTH).
 */
#ifndef DACS_PICKLE_H
#define DACS_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "io/tensorset.h"

/* Bounds of the reader. */
#define DX_PK_MAX_STACK (1 << 20) /* values on the stack */
#define DX_PK_MAX_MARKS 4096      /* open MARKs (nesting of the text) */
#define DX_PK_MAX_MEMO (1 << 22)  /* memo slots */
#define DX_PK_MAX_DEPTH 64        /* nesting a consumer should accept */

enum dx_pv_kind {
    DX_PV_NONE,
    DX_PV_BOOL,
    DX_PV_INT,
    DX_PV_FLOAT,
    DX_PV_STR,
    DX_PV_BYTES,
    DX_PV_TUPLE,
    DX_PV_LIST,
    DX_PV_DICT,
    DX_PV_GLOBAL,  /* a looked-up global, not yet applied */
    DX_PV_STORAGE,
    DX_PV_TENSOR,
    DX_PV_END
};

/* The globals a pickle may name (DX_PV_GLOBAL's g). */
enum dx_pk_global {
    DX_G_ORDERED_DICT,   /* collections.OrderedDict */
    DX_G_REBUILD_V2,     /* torch._utils._rebuild_tensor_v2 */
    DX_G_REBUILD_V1,     /* torch._utils._rebuild_tensor */
    DX_G_REBUILD_PARAM,  /* torch._utils._rebuild_parameter */
    DX_G_STORAGE,        /* torch.<T>Storage; the element type in dtype */
    DX_G_END
};

typedef struct dx_pv dx_pv;
struct dx_pv {
    int kind;
    union {
        int64_t i; /* BOOL (0/1), INT */
        double f;  /* FLOAT */
        struct {   /* STR, BYTES: len bytes, NUL-terminated */
            const char *s;
            size_t len;
        } str;
        struct {   /* TUPLE, LIST: n items; DICT: n pairs in item[2k],
                      item[2k+1]; attrs: a DICT's BUILD state or NULL */
            dx_pv **item;
            size_t n, cap;
            dx_pv *attrs;
        } seq;
        struct {   /* GLOBAL */
            int g;
            int dtype; /* DX_G_STORAGE: a dx_ttype */
        } glob;
        struct {   /* STORAGE: a persistent id */
            int dtype;         /* dx_ttype of the elements */
            const char *key;   /* the record name in the file */
            const char *location;
            int64_t numel;     /* elements, as the id states */
        } st;
        struct {   /* TENSOR: element (i0..) at storage[offset + sum ik*sk] */
            dx_pv *storage;
            int64_t offset;
            int rank;
            int64_t *size, *stride;
            int param; /* rebuilt through _rebuild_parameter */
        } t;
    } u;
};

/* Reader flags. */
enum {
    DX_PK_TORCH = 1 /* accept torch.save's persistent ids (BINPERSID) */
};

typedef struct dx_pk_chunk dx_pk_chunk;

typedef struct dx_pickle {
    dx_pv *root;         /* the value STOP returned */
    dx_pk_chunk *arena;  /* every allocation of this pickle */
    size_t used;         /* bytes read, up to and including STOP */
    size_t nodes;        /* values built */
} dx_pickle;

/* Read one pickle from the start of buf (len bytes); bytes after its STOP
 * are not looked at (p->used says where it ended: a legacy torch file is
 * several pickles in a row).  flags: DX_PK_TORCH or 0.  On failure
 * nothing is left to free, and err names the opcode or global and its
 * byte offset. */
int dx_pickle_load(dx_pickle *p, const unsigned char *buf, size_t len,
                   int flags, dx_err *err);
void dx_pickle_free(dx_pickle *p);

/* "dict", "tensor", ... for messages. */
const char *dx_pv_kind_name(int kind);
/* The value under key (a STR) in a DICT, or NULL. */
dx_pv *dx_pv_get(const dx_pv *dict, const char *key);

/* ---- the writer: protocol 2, as torch.save writes by default ---- */

typedef struct dx_pkw {
    unsigned char *buf;
    size_t len, cap;
    int failed; /* out of memory: every later call does nothing */
} dx_pkw;

/* Each appends the opcodes of one value or action.  Errors (out of
 * memory) are sticky and reported by dx_pkw_finish. */
void dx_pkw_init(dx_pkw *w);   /* PROTO 2 */
void dx_pkw_none(dx_pkw *w);
void dx_pkw_bool(dx_pkw *w, int v);
void dx_pkw_int(dx_pkw *w, int64_t v);
void dx_pkw_str(dx_pkw *w, const char *s);
void dx_pkw_mark(dx_pkw *w);
void dx_pkw_tuple(dx_pkw *w);        /* the items since the last mark */
void dx_pkw_empty_tuple(dx_pkw *w);
void dx_pkw_empty_dict(dx_pkw *w);
void dx_pkw_setitems(dx_pkw *w);     /* key, value pairs since the mark */
void dx_pkw_global(dx_pkw *w, const char *module, const char *name);
void dx_pkw_reduce(dx_pkw *w);
void dx_pkw_binpersid(dx_pkw *w);
/* An empty collections.OrderedDict: GLOBAL, (), REDUCE. */
void dx_pkw_ordered_dict(dx_pkw *w);
/* A contiguous tensor as torch.save writes it: _rebuild_tensor_v2 over the
 * persistent id ('storage', torch.<T>Storage, key, 'cpu', numel), offset
 * 0, size dims, row-major strides, requires_grad False, no hooks. */
void dx_pkw_tensor(dx_pkw *w, int dtype, const char *key, int rank,
                   const int64_t *dims);
/* STOP; returns -1 with err set if anything failed (then w is freed). */
int dx_pkw_finish(dx_pkw *w, dx_err *err);
void dx_pkw_free(dx_pkw *w);

#endif
