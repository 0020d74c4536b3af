/* keymap.h - key maps: how the tensor names of a foreign state_dict
 * become the tensor names of a dacs network, as pure rules on names and
 * shapes, and the exact match of a state_dict against a network's tensor
 * table.
 *
 * A map is a list of rules, one per line ('#' starts a comment; fields
 * are separated by blanks; a PATTERN is a name in which each '*' matches
 * any run of characters, dots included, at most DX_RULE_MAX_STARS of
 * them):
 *
 *   strip PREFIX          remove PREFIX from the start of the key
 *   rename FROM TO        a key matching FROM becomes TO, each '*' of TO
 *                         replaced by what the same '*' of FROM matched
 *   drop PATTERN          a key matching PATTERN is left out, on purpose
 *   refuse PATTERN TEXT   a key matching PATTERN stops the import; TEXT
 *                         (the rest of the line) says why
 *   init PATTERN          a network tensor matching PATTERN may be left
 *                         to initialise: when the file lacks it, or has it
 *                         in another shape (its key is then dropped)
 *
 * Each key of the file goes through the rules top to bottom: strip and
 * rename change it and go on, drop and refuse end it; init rules concern
 * the network's side.  What is left is the dacs name.  A key
 * X.num_batches_tracked is always accounted for when X.running_mean is a
 * tensor of the network: dacs keeps no batch count.
 *
 * The built-in maps (dx_keymap_builtin):
 *   dacs         dacs's own names, as seg-export writes them; also the
 *                names of the DACS and AdaptSegNet DeepLabv2
 *                (model/deeplabv2.py: conv1, bn1, layerL.B.*, layer5.
 *                conv2d_list.K.*) and of deeplab-mini's PyTorch module
 *   torchvision  a torchvision ImageNet ResNet: fc.* dropped, the head
 *                (layer5.*) left to initialise
 *   mmseg        mmsegmentation / DAFormer: backbone. stripped,
 *                decode_head.aspp_modules.K.conv.* to layer5.conv2d_list.
 *                K.*, auxiliary_head.* dropped, head branches the file
 *                lacks (DAFormer's two-branch deeplabv2red) left to
 *                initialise; ResNetV1c's deep stem (backbone.stem.*, three
 *                3x3 convolutions) is refused: it has no counterpart in a
 *                7x7 stem
 * Wrappers around a state_dict (a DACS checkpoint's model. and
 * ema_model., DataParallel's module., AdaptSegNet's Scale.) are not the
 * map's business: the importer finds the prefix (nn/statedict.h).
 */
#ifndef DACS_KEYMAP_H
#define DACS_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define DX_RULE_MAX_STARS 3
#define DX_KEY_MAX 1024 /* longest key, before and after the rules */

enum dx_rule_kind {
    DX_RULE_STRIP,
    DX_RULE_RENAME,
    DX_RULE_DROP,
    DX_RULE_REFUSE,
    DX_RULE_INIT,
    DX_RULE_END
};

typedef struct dx_rule {
    int kind;
    char *a;      /* prefix or pattern */
    char *b;      /* rename: the new name; refuse: the reason */
    char src[64]; /* "map dacs" or "FILE:LINE", for messages */
} dx_rule;

typedef struct dx_keymap {
    char name[64];
    dx_rule *r;
    int n, cap;
} dx_keymap;

/* The names of the built-in maps, NULL-terminated, and each one's
 * one-line description. */
extern const char *const dx_keymap_names[];
const char *dx_keymap_describe(const char *name);

/* An empty map called name. */
void dx_keymap_init(dx_keymap *m, const char *name);
void dx_keymap_free(dx_keymap *m);
/* The built-in map called name (an error lists the known ones). */
int dx_keymap_builtin(dx_keymap *m, const char *name, dx_err *err);
/* Append the rules of len bytes of text; src names it in messages
 * ("rules.txt" gives "rules.txt:3").  A malformed line is an error that
 * names it. */
int dx_keymap_parse(dx_keymap *m, const char *text, size_t len,
                    const char *src, dx_err *err);
/* Append the rules of a file. */
int dx_keymap_read(dx_keymap *m, const char *path, dx_err *err);
/* Append one rule (kind, a, b) made by a program (e.g. an option). */
int dx_keymap_add(dx_keymap *m, int kind, const char *a, const char *b,
                  const char *src, dx_err *err);
/* Append the rules of src to m. */
int dx_keymap_extend(dx_keymap *m, const dx_keymap *src, dx_err *err);

/* Does name match pattern ('*' wildcards)? */
int dx_key_glob(const char *pattern, const char *name);

/* What the rules make of key. */
enum dx_key_fate {
    DX_KEY_MAPPED,  /* out holds the dacs name */
    DX_KEY_DROPPED, /* by the rule *rule */
    DX_KEY_REFUSED, /* by the rule *rule */
    DX_KEY_TOO_LONG /* a rename made it longer than cap */
};
int dx_keymap_apply(const dx_keymap *m, const char *key, char *out,
                    size_t cap, const dx_rule **rule);

/* A named tensor of either side of a match. */
typedef struct dx_tspec {
    const char *name;
    int rank;
    const int64_t *dims;
    int is_float; /* an f32/f16/bf16/f64 tensor (the network's all are) */
} dx_tspec;

/* What became of each tensor of the file (src) and of the network (tgt). */
enum dx_src_fate {
    DX_SRC_IMPORTED,   /* into target src_tgt[k] */
    DX_SRC_DROPPED,    /* by a drop rule */
    DX_SRC_COUNTER,    /* a num_batches_tracked of a BN of the network */
    DX_SRC_REPLACED,   /* another shape onto an init tensor: left out */
    DX_SRC_UNEXPECTED, /* no tensor of the network has its name */
    DX_SRC_SHAPE,      /* the tensor src_tgt[k] has another shape */
    DX_SRC_REFUSED,    /* by a refuse rule */
    DX_SRC_TWICE,      /* a second key onto the same tensor */
    DX_SRC_BADNAME     /* renamed beyond DX_KEY_MAX */
};

typedef struct dx_match {
    int nsrc, ntgt;
    int *src_fate, *src_tgt; /* per file tensor */
    int *tgt_src;            /* per network tensor: file tensor, -1 none,
                                -2 one of another shape */
    int *tgt_init;           /* per network tensor: left to initialise */
    int imported, initialised, dropped, counters;
    /* one line per problem (unexpected, mis-shaped, missing, refused,
     * twice) and per note (a tensor left to initialise, a key dropped) */
    char **problem, **note;
    int nproblem, nnote;
} dx_match;

/* Match the file's tensors src (names relative to their state_dict)
 * through m against the network's tensors tgt.  The match is exact when
 * r->nproblem is 0: every file tensor imported, dropped, a batch counter
 * or replaced, every network tensor imported or allowed by an init rule
 * to be left to initialise.  Returns -1 only on an internal error (out
 * of memory); problems are in r. */
int dx_keymap_match(const dx_keymap *m, const dx_tspec *src, int nsrc,
                    const dx_tspec *tgt, int ntgt, dx_match *r, dx_err *err);
void dx_match_free(dx_match *r);

#endif
