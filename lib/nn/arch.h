/* arch.h - the architecture record of a checkpoint (the meta.arch frame).
 *
 * meta.arch is text: one "key=value" line per key, every key exactly once,
 * in any order, '\n' line ends (the last one optional), no blank lines,
 * no spaces, printable ASCII only.  The keys of version 1:
 *
 *     net=deeplab-mini      the only network this dacs builds
 *     version=1             the version of this record
 *     width=32              w, the stem width (1..DX_ARCH_MAX_WIDTH)
 *     classes=19            output classes (1..DX_ARCH_MAX_CLASSES)
 *     mean=0.485,0.456,0.406   per-channel input mean (R,G,B), finite
 *     std=0.229,0.224,0.225    per-channel input std, finite, > 0
 *
 * The parser is strict and bounded: it never allocates, never reads past
 * the given length, and rejects anything else with a message naming the
 * line.  A record of another network is an error that says so.
 */
#ifndef DACS_ARCH_H
#define DACS_ARCH_H

#include <stddef.h>

#include "base/err.h"

#define DX_ARCH_NET "deeplab-mini"
#define DX_ARCH_VERSION 1
#define DX_ARCH_MAX_WIDTH 512
/* Predictions are u8 and 255 means "ignore". */
#define DX_ARCH_MAX_CLASSES 255
/* meta.arch longer than this is refused before it is looked at. */
#define DX_ARCH_MAX_TEXT 4096

typedef struct dx_arch {
    int width;
    int classes;
    float mean[3];
    float std[3];
} dx_arch;

/* The defaults: width 32, 19 classes, ImageNet mean and std. */
void dx_arch_default(dx_arch *a);
/* Check ranges of a filled-in record (e.g. from options). */
int dx_arch_check(const dx_arch *a, dx_err *err);
/* Parse len bytes of text (not NUL-terminated). */
int dx_arch_parse(dx_arch *a, const char *text, size_t len, dx_err *err);
/* Format as text into buf (NUL-terminated); returns the length, or -1 if
 * buf is too small.  Floats are written as the shortest decimal that
 * reads back as the same float, so parse(format(a)) == a exactly. */
int dx_arch_format(const dx_arch *a, char *buf, size_t cap);
/* "deeplab-mini w=32 classes=19" for messages. */
void dx_arch_describe(const dx_arch *a, char *buf, size_t cap);

#endif
