/* statedict.h - a foreign state_dict (a tensor set of io/tensorset.h)
 * bound to a dacs network: recognising which network, key map and prefix
 * fit a file, importing it into a model, and exporting a model as a
 * PyTorch state_dict.
 *
 * A file may hold several state_dicts under prefixes of its dotted names:
 * a plain state_dict (prefix ""), {'state_dict': ...} ("state_dict."), a
 * DACS training checkpoint (student "model.", EMA teacher "ema_model."),
 * DataParallel's "module.", AdaptSegNet's "Scale.".  Recognition tries
 * every prefix at a '.' boundary of the file's tensor names with every
 * candidate map (nn/keymap.h) and every network that can say its
 * architecture from the names and shapes, and keeps the combination that
 * gives the network the most of its tensors, then the fewest problems
 * (on a full tie the map listed first in nn/keymap.h).
 *
 * What the names and shapes say:
 *   deeplab-mini  width from stem.0.conv.weight, classes from
 *                 head.0.weight;
 *   deeplabv2     width from conv1.weight (w x 3 x 7 x 7), bottleneck or
 *                 basic blocks from layer1.0.conv3, the blocks of each
 *                 layer from its highest block, the depth whose blocks
 *                 those are (else 50 or 18 with the blocks as found),
 *                 classes from layer5.conv2d_list.0.
 * What they cannot say comes from the map: the dacs map (the DACS and
 * AdaptSegNet DeepLabv2, trained in Caffe) gives style caffe, BGR input
 * with the Caffe mean and std 1/255, 2 heads (what the DACS code sums);
 * torchvision and mmseg give style pytorch (the stride in the 3x3, v1.5)
 * and RGB with ImageNet's mean and std; mmseg sums every head branch the
 * file has.  bn is frozen (DACS).  The options (o->arch) go over all of
 * it; options that give the network other classes than the file's head
 * leave the head (head.* or layer5.*) to initialise, by an init rule
 * named "--classes".  Two prefixes that fit equally are told apart only by
 * name: one whose path has a teacher's name (ema_model, ema, teacher,
 * model_ema, mean_teacher) is the teacher, the other the student; any
 * other tie is an error that lists them (choose with a key).
 *
 * The iteration: DACS saves 'iteration' beside the state_dicts, the index
 * of the last completed step (its resume starts at iteration + 1), so
 * meta.iter, the number of completed steps, is iteration + 1; exporting
 * writes meta.iter - 1 (-1 for a model that has taken no step).
 */
#ifndef DACS_STATEDICT_H
#define DACS_STATEDICT_H

#include <stdint.h>

#include "base/err.h"
#include "io/tensorset.h"
#include "nn/arch.h"
#include "nn/keymap.h"
#include "nn/model.h"

#define DX_SD_PREFIX (DX_TS_MAX_NAME + 2)

typedef struct dx_sd_opts {
    const char *map;         /* a built-in map, or NULL: try each */
    const dx_keymap *extra;  /* rules after the map's, or NULL */
    const char *key;         /* the student's prefix ("model" or
                                "model."; "" the top), NULL: found */
    const char *teacher_key; /* the teacher's prefix, NULL: found */
    int teacher;             /* a teacher is wanted */
    const dx_arch_opts *arch; /* options over the recognised meta.arch
                                (nn/arch.h: its --net restricts the
                                networks tried), or NULL */
} dx_sd_opts;

typedef struct dx_sd_plan {
    dx_keymap map;                  /* the chosen map and the extra rules */
    char root[DX_SD_PREFIX];        /* the student's prefix */
    char teacher[DX_SD_PREFIX];     /* the teacher's, if has_teacher */
    int has_teacher;
    char spare[DX_SD_PREFIX];       /* a teacher found but not asked for */
    dx_arch arch;
    int imported;                   /* network tensors the file provides */
    int ntensors;                   /* network tensors */
    int64_t iteration;              /* the file's, or -1 */
    int has_iteration;
} dx_sd_plan;

/* Recognise the state_dict(s) of ts; on success p describes them (free
 * with dx_sd_plan_free).  Fails when nothing fits, naming what was
 * tried, or when two prefixes fit equally. */
int dx_sd_recognise(const dx_tset *ts, const dx_sd_opts *o, dx_sd_plan *p,
                    dx_err *err);
void dx_sd_plan_free(dx_sd_plan *p);

/* Build m (dx_model_init of p->arch with seed: tensors left to initialise
 * keep those values), then copy every tensor of ts under root through
 * p->map.  r receives the match (free it with dx_match_free).  Fails if
 * the match is not exact (r->nproblem > 0; err counts them), or a value
 * is not finite, or a running variance is negative; then m is freed. */
int dx_sd_import(dx_model *m, const dx_tset *ts, const dx_sd_plan *p,
                 const char *root, uint64_t seed, dx_match *r, dx_err *err);

/* Append m's tensors to ts as f32 tensors in checkpoint order, named
 * group + "." + prefix + name (group "" : prefix + name), in group,
 * each BN's X.running_var followed by X.num_batches_tracked, an int64
 * scalar 0 (dacs keeps no batch count; PyTorch reads it only when a BN's
 * momentum is None). */
int dx_sd_export(const dx_model *m, dx_tset *ts, const char *group,
                 const char *prefix, dx_err *err);

#endif
