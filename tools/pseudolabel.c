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
#include "base/coll.h"
#include "data/batch.h"
#include "dacs/pseudo.h"
#include "io/tns.h"

#define USAGE                                                                 \
    "usage: pseudolabel [OPTIONS] [FILE]\n"                                   \
    "Pseudo-labels and their weights from the teacher's probabilities (DACS\n" \
    "steps 2-3, dacs-method(7)).  Reads a tensor stream (FILE, or stdin),\n" \
    "and for every segment reads PREFIX.prob (f32 NxCxHxW), passes every\n"  \
    "frame through and appends PREFIX.plabel (u8 NxHxW, argmax),\n"          \
    "PREFIX.weight (f32 NxHxW) and PREFIX.lambda (f32 scalar: the fraction\n" \
    "of the batch's pixels with confidence >= tau).  One line per segment\n" \
    "on stderr:\n"                                                           \
    "  pseudolabel: segment=S lambda=L confident=K pixels=P hist=H0,H1,...\n"  \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --weight MODE       threshold_uniform (every pixel gets lambda),\n"   \
    "                      threshold (1 where confidence >= tau, else 0) or\n" \
    "                      none (1 everywhere) (default %s)\n"                \
    "  --threshold TAU     confidence threshold tau in [0, 1] (default %g)\n" \
    "  --logits            the input holds logits: apply a softmax first\n"  \
    "  --prefix P          frame name prefix (default %s)\n"                  \
    "  --prob NAME         input frame (default PREFIX.prob)\n"              \
    "  --no-lambda         do not append the PREFIX.lambda frame\n"         \
    "  --from-argmax       read the arg-max instead of the probabilities:\n" \
    "                      PREFIX.pred (u8 NxHxW) and PREFIX.conf (f32 NxHxW,\n" \
    "                      in [0, 1]), as seg-infer --argmax writes them;\n" \
    "                      the same outputs, from a stream C times smaller\n" \
    "\n"                                                                      \
    "margins (weight 0; in pixels of the full-size image, mapped to each\n" \
    "crop through PREFIX.box, seg-batch --emit-box; lambda is unchanged):\n" \
    "  --ignore-top N      rows at the top (DAFormer at 1024x512: 15; MIC\n" \
    "                      at 2048x1024: 30) (default 0)\n"                 \
    "  --ignore-bottom N   rows at the bottom (DAFormer: 120; MIC: 240)\n"  \
    "                      (default 0)\n"                                    \
    "  --ignore-left N     columns at the left (MIC: 30) (default 0)\n"      \
    "  --ignore-right N    columns at the right (MIC: 30) (default 0)\n"     \
    "  --box NAME          the crop boxes (default PREFIX.box)\n"          \
    "\n"                                                                      \
    "data parallelism (dacs-train --mpi):\n"                                 \
    "  --mpi SOCKET        the batch is this rank's share: lambda, the\n"   \
    "                      counts and the histogram are those of the global\n" \
    "                      batch, summed over the ranks by the rank's\n"    \
    "                      mpi-hub(1) listening at SOCKET\n"

#define DEFAULT_PREFIX "tgt"

static struct {
    dx_cli cli;
    const char *prob, *prefix, *box;
    int no_lambda, from_argmax;
    dx_pseudo_opts p;
    dx_margins m;
    const char *mpi;
    dx_coll *coll;
} opt = {.cli.take = DX_CLI_INPUT | DX_CLI_FILE | DX_CLI_OUTPUT |
                     DX_CLI_QUIET | DX_CLI_REPLACE | DX_CLI_DROP |
                     DX_CLI_LIVE,
         .prefix = DEFAULT_PREFIX};

static int has_margins(void)
{
    return opt.m.top || opt.m.bottom || opt.m.left || opt.m.right;
}

static void report(long seg, const dx_pseudo_stats *st, int c, size_t in)
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
    if (has_margins() && at < sizeof buf)
        snprintf(buf + at, sizeof buf - at, " margins=%zu", in);
    dx_note("%s", buf);
}

/* Validate one batch, compute, and append the outputs to s. */
static int process(tns_stream *s, long seg, const char *names[5],
                   dx_err *err)
{
    const tns_frame *p = NULL, *pred = NULL, *conf = NULL;
    if (opt.from_argmax) {
        if (!(conf = dx_need_conf(s, names[4], NULL, err)) ||
            !(pred = dx_need_label(s, names[3], conf, DX_MAX_CLASSES, err)))
            return -1;
        if (pred->dtype != DX_U8)
            return dx_fail(err, "frame '%s' has dtype %s, expected u8 (an "
                           "arg-max)", pred->name,
                           dx_dtype_name(pred->dtype));
    } else {
        if (!(p = dx_need_prob(s, opt.prob, NULL, err)))
            return -1;
        if (dx_check_prob(p, opt.p.logits, err)) {
            char m[DX_ERRLEN];
            snprintf(m, sizeof m, "%s", err->msg);
            return opt.p.logits ? -1
                                : dx_fail(err, "%s (logits? see --logits)", m);
        }
    }
    const tns_frame *like = p ? p : conf;
    int64_t n = like->dims[0], c = p ? p->dims[1] : DX_MAX_CLASSES;
    int64_t h = like->dims[p ? 2 : 1], w = like->dims[p ? 3 : 2];
    const tns_frame *box = NULL;
    if (has_margins() && !(box = dx_need_box(s, opt.box, like, err))) {
        char m[DX_ERRLEN];
        snprintf(m, sizeof m, "%s", err->msg);
        return dx_fail(err, "%s (--ignore-* margins are in pixels of the "
                       "full-size image; seg-batch --emit-box writes the "
                       "boxes that map them to a crop)", m);
    }
    tns_frame lab = {0}, wt = {0}, lam = {0};
    int64_t dims[3] = {n, h, w};
    dx_pseudo_stats st;
    if (tns_frame_alloc(&lab, names[0], DX_U8, 3, dims, err) ||
        tns_frame_alloc(&wt, names[1], DX_F32, 3, dims, err) ||
        tns_frame_alloc(&lam, names[2], DX_F32, 0, NULL, err))
        goto fail;
    if (p ? dx_pseudolabel(lab.data, wt.data, &st, p->data, (int)n, (int)c,
                           (size_t)(h * w), opt.p.logits, opt.p.tau,
                           opt.p.mode, err)
          : dx_pseudolabel_argmax(lab.data, wt.data, &st, pred->data,
                                  conf->data, (size_t)(n * h * w), opt.p.tau,
                                  opt.p.mode, err)) {
        dx_wrap(err, "frame '%s': ", like->name);
        goto fail;
    }
    if (opt.coll) {
        /* the global batch's counts (the whole histogram: with
         * --from-argmax a rank's classes end where its arg-max does),
         * then its lambda */
        double sum[2 + DX_MAX_CLASSES];
        sum[0] = (double)st.pixels, sum[1] = (double)st.confident;
        for (int k = 0; k < DX_MAX_CLASSES; k++)
            sum[2 + k] = (double)st.hist[k];
        if (dx_coll_sum_f64(opt.coll, sum, 2 + DX_MAX_CLASSES, "lambda", err))
            goto fail;
        st.pixels = (uint64_t)sum[0], st.confident = (uint64_t)sum[1];
        for (int k = 0; k < DX_MAX_CLASSES; k++)
            st.hist[k] = (uint64_t)sum[2 + k];
        dx_pseudo_lambda(&st, wt.data, (size_t)(n * h * w), opt.p.mode);
    }
    if (!p) /* the classes: as far as the arg-max reaches */
        for (c = DX_MAX_CLASSES; c > 1 && !st.hist[c - 1]; c--)
            ;
    *(float *)lam.data = (float)st.lambda;
    size_t in = has_margins() ? dx_pseudo_margins(wt.data, (int)n, (int)h,
                                                  (int)w, box->data, &opt.m)
                              : 0;
    if (tns_stream_put(s, &lab, opt.cli.replace, err) ||
        tns_stream_put(s, &wt, opt.cli.replace, err) ||
        (!opt.no_lambda && tns_stream_put(s, &lam, opt.cli.replace, err)))
        goto fail;
    tns_frame_free(&lam);
    if (!opt.cli.quiet)
        report(seg, &st, (int)c, in);
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
    dx_pseudo_defaults(&opt.p);
    enum { O_WEIGHT = DX_OPT_TOOL, O_THRESHOLD, O_LOGITS, O_PREFIX, O_PROB,
           O_NOLAMBDA, O_ARGMAX, O_TOP, O_BOTTOM, O_LEFT, O_RIGHT, O_BOX, O_MPI };
    static const struct option longopts[] = {
        {"weight", required_argument, NULL, O_WEIGHT},
        {"threshold", required_argument, NULL, O_THRESHOLD},
        {"logits", no_argument, NULL, O_LOGITS},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"prob", required_argument, NULL, O_PROB},
        {"no-lambda", no_argument, NULL, O_NOLAMBDA},
        {"from-argmax", no_argument, NULL, O_ARGMAX},
        {"ignore-top", required_argument, NULL, O_TOP},
        {"ignore-bottom", required_argument, NULL, O_BOTTOM},
        {"ignore-left", required_argument, NULL, O_LEFT},
        {"ignore-right", required_argument, NULL, O_RIGHT},
        {"box", required_argument, NULL, O_BOX},
        {"mpi", required_argument, NULL, O_MPI},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = dx_cli_next(&opt.cli, argc, argv, "", longopts)) != -1) {
        switch (ch) {
        case O_WEIGHT:
            opt.p.mode = dx_arg_enum("--weight", optarg, dx_weight_mode_names);
            break;
        case O_THRESHOLD:
            opt.p.tau = dx_arg_double("--threshold", optarg, 0, 1);
            break;
        case O_LOGITS:
            opt.p.logits = 1;
            break;
        case O_PREFIX:
            opt.prefix = optarg;
            break;
        case O_PROB:
            opt.prob = dx_arg_frame("--prob", optarg, tns_name_ok);
            break;
        case O_NOLAMBDA:
            opt.no_lambda = 1;
            break;
        case O_ARGMAX:
            opt.from_argmax = 1;
            break;
        case O_TOP:
            opt.m.top = (int)dx_arg_long("--ignore-top", optarg, 0, 1 << 20);
            break;
        case O_BOTTOM:
            opt.m.bottom = (int)dx_arg_long("--ignore-bottom", optarg, 0,
                                            1 << 20);
            break;
        case O_LEFT:
            opt.m.left = (int)dx_arg_long("--ignore-left", optarg, 0,
                                          1 << 20);
            break;
        case O_RIGHT:
            opt.m.right = (int)dx_arg_long("--ignore-right", optarg, 0,
                                           1 << 20);
            break;
        case O_BOX:
            opt.box = dx_arg_frame("--box", optarg, tns_name_ok);
            break;
        case O_MPI:
            opt.mpi = optarg;
            break;
        case 'h': {
            dx_pseudo_opts d;
            dx_pseudo_defaults(&d);
            dx_cli_help(&opt.cli, USAGE, dx_weight_mode_names[d.mode], d.tau,
                        DEFAULT_PREFIX);
        }
        }
    }
    dx_cli_end(&opt.cli, argc, argv);
    if (opt.from_argmax && (opt.prob || opt.p.logits))
        dx_die("--from-argmax reads PREFIX.pred and PREFIX.conf: it takes "
               "no --prob or --logits");
    char prob[TNS_MAX_NAME + 1], plabel[TNS_MAX_NAME + 1],
        weight[TNS_MAX_NAME + 1], lambda[TNS_MAX_NAME + 1],
        pred[TNS_MAX_NAME + 1], conf[TNS_MAX_NAME + 1], box[TNS_MAX_NAME + 1];
    dx_arg_prefixed(pred, sizeof pred, "--prefix", opt.prefix, "pred",
                    tns_name_ok);
    dx_arg_prefixed(conf, sizeof conf, "--prefix", opt.prefix, "conf",
                    tns_name_ok);
    dx_arg_prefixed(prob, sizeof prob, "--prefix", opt.prefix, "prob",
                    tns_name_ok);
    dx_arg_prefixed(plabel, sizeof plabel, "--prefix", opt.prefix, "plabel",
                    tns_name_ok);
    dx_arg_prefixed(weight, sizeof weight, "--prefix", opt.prefix, "weight",
                    tns_name_ok);
    dx_arg_prefixed(lambda, sizeof lambda, "--prefix", opt.prefix, "lambda",
                    tns_name_ok);
    dx_arg_prefixed(box, sizeof box, "--prefix", opt.prefix, "box",
                    tns_name_ok);
    if (!opt.prob)
        opt.prob = prob;
    if (!opt.box)
        opt.box = box;
    const char *names[5] = {plabel, weight, lambda, pred, conf};

    tns_set_live(opt.cli.live);
    dx_err err;
    static dx_coll coll;
    if (opt.mpi) {
        if (dx_coll_open(&coll, opt.mpi, "pseudolabel", &err))
            dx_die_err(&err);
        opt.coll = &coll;
    }
    if (tns_filter(opt.cli.in, opt.cli.out, segment, names, opt.cli.drop,
                   opt.cli.ndrop, &err))
        dx_die_err(&err);
    dx_coll_close(opt.coll);
    return 0;
}
