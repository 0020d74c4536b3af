/* pseudolabel - pseudo-labels and weights from teacher probabilities.
 *
 *   pseudolabel [OPTIONS] [FILE]
 *
 * Reads PREFIX.prob (f32 NxCxHxW) from every segment, passes every frame
 * through and appends PREFIX.plabel, PREFIX.weight and PREFIX.lambda.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/batch.h"
#include "dacs/pseudo.h"
#include "io/tns.h"

static const char USAGE[] =
    "usage: pseudolabel [OPTIONS] [FILE]\n"
    "Pseudo-labels and their weights from the teacher's probabilities (DACS\n"
    "steps 2-3).  Reads a tensor stream (FILE, or stdin), and for every\n"
    "segment reads PREFIX.prob (f32 NxCxHxW), passes every frame through and\n"
    "appends PREFIX.plabel (u8 NxHxW, argmax), PREFIX.weight (f32 NxHxW) and\n"
    "PREFIX.lambda (f32 scalar: the fraction of the batch's pixels with\n"
    "confidence >= tau).  One line per segment on stderr:\n"
    "  pseudolabel: segment=S lambda=L confident=K pixels=P hist=H0,H1,...\n"
    "\n"
    "options:\n"
    "  --weight MODE       threshold_uniform (default: every pixel gets\n"
    "                      lambda), threshold (1 where confidence >= tau,\n"
    "                      else 0) or none (1 everywhere)\n"
    "  --threshold TAU     confidence threshold tau in [0, 1] (default 0.968)\n"
    "  --logits            the input holds logits: apply a softmax first\n"
    "  --prefix P          frame name prefix (default tgt)\n"
    "  --prob NAME         input frame (default PREFIX.prob)\n"
    "  --no-lambda         do not append the PREFIX.lambda frame\n"
    "  --drop GLOB         leave frames matching GLOB out of the output\n"
    "                      (repeatable; applied after the outputs are added)\n"
    "  --replace           outputs replace frames of the same name instead of\n"
    "                      being an error\n"
    "  -q, --quiet         no report on stderr\n"
    "  -i, --input FILE    input stream (default stdin)\n"
    "  -o, --output FILE   output stream, written atomically (default stdout)\n"
    "  -h, --help          show this help\n";

#define MAX_DROP 64

static struct {
    const char *in, *out, *prob;
    char prefix[128];
    const char *drop[MAX_DROP];
    int ndrop, mode, logits, replace, quiet, no_lambda;
    double tau;
} opt = {.prefix = "tgt", .mode = DX_WEIGHT_THRESHOLD_UNIFORM, .tau = 0.968};

static void frame_name(char *dst, const char *suffix)
{
    snprintf(dst, TNS_MAX_NAME + 1, "%s.%s", opt.prefix, suffix);
    if (!tns_name_ok(dst))
        dx_die("--prefix: '%s' makes the bad frame name '%s'", opt.prefix,
               dst);
}

static void report(long seg, const dx_pseudo_stats *st, int c)
{
    char buf[4096];
    size_t at = 0;
    at += (size_t)snprintf(buf, sizeof buf,
                           "segment=%ld lambda=%.6f confident=%llu pixels=%llu"
                           " hist=", seg, st->lambda,
                           (unsigned long long)st->confident,
                           (unsigned long long)st->pixels);
    for (int k = 0; k < c && at < sizeof buf; k++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%llu",
                               k ? "," : "",
                               (unsigned long long)st->hist[k]);
    dx_note("%s", buf);
}

/* Validate one batch, compute, and append the outputs to s. */
static int process(tns_stream *s, long seg, const char *names[3],
                   dx_err *err)
{
    const tns_frame *p = dx_need_prob(s, opt.prob, NULL, err);
    if (!p)
        return -1;
    int64_t n = p->dims[0], c = p->dims[1], h = p->dims[2], w = p->dims[3];
    tns_frame lab = {0}, wt = {0}, lam = {0};
    int64_t dims[3] = {n, h, w};
    dx_pseudo_stats st;
    if (tns_frame_alloc(&lab, names[0], DX_U8, 3, dims, err) ||
        tns_frame_alloc(&wt, names[1], DX_F32, 3, dims, err) ||
        tns_frame_alloc(&lam, names[2], DX_F32, 0, NULL, err))
        goto fail;
    if (dx_pseudolabel(lab.data, wt.data, &st, p->data, (int)n, (int)c,
                       (size_t)(h * w), opt.logits, opt.tau, opt.mode, err)) {
        dx_wrap(err, "frame '%s': ", p->name);
        goto fail;
    }
    *(float *)lam.data = (float)st.lambda;
    if (tns_stream_put(s, &lab, opt.replace, err) ||
        tns_stream_put(s, &wt, opt.replace, err) ||
        (!opt.no_lambda && tns_stream_put(s, &lam, opt.replace, err)))
        goto fail;
    tns_frame_free(&lam);
    if (!opt.quiet)
        report(seg, &st, (int)c);
    return 0;
fail:
    tns_frame_free(&lab);
    tns_frame_free(&wt);
    tns_frame_free(&lam);
    return -1;
}

/* tns_filter's view of process(): ctx is the table of output names. */
static int segment(void *ctx, tns_stream *s, long seg, dx_err *err)
{
    return process(s, seg, ctx, err);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    enum { O_WEIGHT = 256, O_THRESHOLD, O_LOGITS, O_PREFIX, O_PROB,
           O_NOLAMBDA, O_DROP, O_REPLACE };
    static const struct option longopts[] = {
        {"weight", required_argument, NULL, O_WEIGHT},
        {"threshold", required_argument, NULL, O_THRESHOLD},
        {"logits", no_argument, NULL, O_LOGITS},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"prob", required_argument, NULL, O_PROB},
        {"no-lambda", no_argument, NULL, O_NOLAMBDA},
        {"drop", required_argument, NULL, O_DROP},
        {"replace", no_argument, NULL, O_REPLACE},
        {"quiet", no_argument, NULL, 'q'},
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = dx_getopt(argc, argv, "qi:o:h", longopts)) != -1) {
        switch (ch) {
        case O_WEIGHT:
            opt.mode = dx_arg_enum("--weight", optarg, dx_weight_mode_names);
            break;
        case O_THRESHOLD:
            opt.tau = dx_arg_double("--threshold", optarg, 0, 1);
            break;
        case O_LOGITS:
            opt.logits = 1;
            break;
        case O_PREFIX:
            if (strlen(optarg) > 100)
                dx_die("--prefix: '%s' is longer than 100 characters",
                       optarg);
            snprintf(opt.prefix, sizeof opt.prefix, "%s", optarg);
            break;
        case O_PROB:
            if (!tns_name_ok(optarg))
                dx_die("--prob: bad frame name '%s'", optarg);
            opt.prob = optarg;
            break;
        case O_NOLAMBDA:
            opt.no_lambda = 1;
            break;
        case O_DROP:
            if (opt.ndrop == MAX_DROP)
                dx_die("--drop: at most %d globs", MAX_DROP);
            opt.drop[opt.ndrop++] = optarg;
            break;
        case O_REPLACE:
            opt.replace = 1;
            break;
        case 'q':
            opt.quiet = 1;
            break;
        case 'i':
            opt.in = optarg;
            break;
        case 'o':
            opt.out = optarg;
            break;
        case 'h':
            dx_help(USAGE);
        }
    }
    dx_arg_input(argc, argv, optind, &opt.in);
    char prob[TNS_MAX_NAME + 1], plabel[TNS_MAX_NAME + 1],
        weight[TNS_MAX_NAME + 1], lambda[TNS_MAX_NAME + 1];
    frame_name(prob, "prob");
    frame_name(plabel, "plabel");
    frame_name(weight, "weight");
    frame_name(lambda, "lambda");
    if (!opt.prob)
        opt.prob = prob;
    const char *names[3] = {plabel, weight, lambda};

    dx_err err;
    if (tns_filter(opt.in, opt.out, segment, names, opt.drop, opt.ndrop,
                   &err))
        dx_die_err(&err);
    return 0;
}
