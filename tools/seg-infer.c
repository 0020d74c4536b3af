/* seg-infer - run the network on the images of a stream, batch by batch.
 *
 *   seg-infer -m CKPT [-i IN] [-o OUT] [--in NAME] [--out NAME]
 *             [--argmax [--pred NAME] [--conf NAME]] [--bn running|batch]
 *             [--size-of NAME | --size WxH] [--replace]
 *   seg-infer --teacher-from MODELS ...   a new model before each batch
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/coll.h"
#include "data/batch.h"
#include "data/resize.h"
#include "io/pngio.h"
#include "nn/loss.h"
#include "nn/model.h"
#include "io/tns.h"

#define USAGE                                                                 \
    "usage: seg-infer -m CKPT [OPTIONS]\n"                                    \
    "       seg-infer --teacher-from MODELS [OPTIONS]\n"                      \
    "Pass every frame of the input through and append the network's\n"       \
    "prediction for an image frame, one batch (segment) at a time.\n"         \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  -m, --model CKPT    checkpoint to run (required; a student or a\n"     \
    "                      teacher)\n"                                        \
    "  --in NAME           image frame, u8 NxHxWx3 (default %s)\n"            \
    "  --out NAME          softmax probabilities, f32 NxCxHxW (default %s)\n" \
    "  --argmax            write the arg-max class and its probability\n"    \
    "                      instead of the probabilities\n"                    \
    "  --pred NAME         with --argmax: class map, u8 NxHxW (default %s)\n" \
    "  --conf NAME         with --argmax: its probability, f32 NxHxW\n"      \
    "                      (default %s)\n"                                    \
    "  --bn MODE           batch-norm statistics: running (the stored\n"     \
    "                      estimates, eval mode; images one at a time) or\n"  \
    "                      batch (those of each input batch, as the\n"        \
    "                      reference DACS teacher; the model is not\n"        \
    "                      changed) (default %s)\n"                         \
    "  --teacher-from MODELS  instead of -m: a stream (a FIFO, or a file)\n" \
    "                      of models, one segment each, such as ema-merge\n" \
    "                      --stream writes; before each batch the next model\n" \
    "                      is read and used for it, and after the last batch\n" \
    "                      one more is read (the one its step made) before\n" \
    "                      MODELS must end\n" \
    "  --size-of NAME      resize the prediction to the H and W of frame\n" \
    "                      NAME (NxHxW, e.g. a full-size tgt.label of\n"    \
    "                      seg-batch --full-labels): logits bilinear,\n"    \
    "                      align_corners=False, as DAFormer and the\n"     \
    "                      Cityscapes benchmark score (default: the\n"     \
    "                      image's size)\n"                                 \
    "  --size WxH          the same to W x H (e.g. 2048x1024 for the\n"    \
    "                      Cityscapes test images, which have no labels)\n" \
    "  --mpi SOCKET        with --bn batch, data parallelism (dacs-train\n" \
    "                      --mpi): each batch is this rank's share, and the\n" \
    "                      batch-norm statistics are those of the global\n" \
    "                      batch, summed over the ranks by the rank's\n"    \
    "                      mpi-hub(1) at SOCKET (synchronised batch-norm)\n"

#define DEFAULT_IMAGE "tgt.image"
#define DEFAULT_PROB "tgt.prob"
#define DEFAULT_PRED "tgt.pred"
#define DEFAULT_CONF "tgt.conf"

static const char *const BN_WORDS[] = {"running", "batch", NULL};

static struct {
    dx_cli cli;
    const char *model, *image, *prob, *pred, *conf, *models, *size_of,
        *mpi;
    dx_coll *coll;
    int argmax, bn;
    long size_w, size_h;
} opt = {.cli.take = DX_CLI_INPUT | DX_CLI_OUTPUT | DX_CLI_REPLACE |
                     DX_CLI_THREADS | DX_CLI_LIVE,
         .image = DEFAULT_IMAGE, .prob = DEFAULT_PROB, .pred = DEFAULT_PRED,
         .conf = DEFAULT_CONF, .bn = DX_BN_RUNNING};

/* Fails if name is in s and --replace was not given. */
static int check_free(const tns_stream *s, const char *name, dx_err *err)
{
    if (!opt.cli.replace && tns_stream_find(s, name) >= 0)
        return dx_fail(err, "frame '%s' is already in the input (use "
                       "--replace to overwrite it)", name);
    return 0;
}

/* Predict one batch and add the output frames to s. */
static int infer(dx_model *m, tns_stream *s, dx_err *err)
{
    const tns_frame *img = dx_need_image(s, opt.image, err);
    if (!img)
        return -1;
    if (opt.argmax ? check_free(s, opt.pred, err) || check_free(s, opt.conf,
                                                                 err)
                   : check_free(s, opt.prob, err))
        return -1;
    int n = (int)img->dims[0], H = (int)img->dims[1], W = (int)img->dims[2];
    int C = m->arch.classes;
    /* the output's size: the image's, or that of --size-of */
    int OH = opt.size_h ? (int)opt.size_h : H;
    int OW = opt.size_w ? (int)opt.size_w : W;
    if (opt.size_of) {
        const tns_frame *f = tns_stream_cget(s, opt.size_of);
        char sh[160], si[160];
        if (!f)
            return dx_fail(err, "missing frame '%s' in the input stream "
                           "(--size-of)", opt.size_of);
        if (f->rank != 3 || f->dims[0] != n || f->dims[1] < 1 ||
            f->dims[2] < 1 || f->dims[1] > DX_MAX_IMAGE_SIDE ||
            f->dims[2] > DX_MAX_IMAGE_SIDE)
            return dx_fail(err, "frame '%s' has shape %s, '%s' has %s: "
                           "--size-of needs NxHxW with the images' N and "
                           "sides in [1, %d]", f->name,
                           tns_shape_str(f, sh, sizeof sh), img->name,
                           tns_shape_str(img, si, sizeof si),
                           DX_MAX_IMAGE_SIDE);
        OH = (int)f->dims[1];
        OW = (int)f->dims[2];
    }
    int resize = OH != H || OW != W;
    size_t hw = (size_t)H * W, per = (size_t)C * hw;
    size_t ohw = (size_t)OH * OW, oper = (size_t)C * ohw;
    tns_frame prob = {0}, pred = {0}, conf = {0};
    int64_t pd[4] = {n, C, OH, OW}, md[3] = {n, OH, OW};
    float *tmp = NULL;
    int rc = -1;
    if (opt.argmax) {
        if (tns_frame_alloc(&pred, opt.pred, DX_U8, 3, md, err) ||
            tns_frame_alloc(&conf, opt.conf, DX_F32, 3, md, err))
            goto done;
    } else if (tns_frame_alloc(&prob, opt.prob, DX_F32, 4, pd, err)) {
        goto done;
    }
    if (opt.argmax || resize) {
        int k = opt.bn == DX_BN_BATCH ? n : 1;
        tmp = malloc(sizeof *tmp * per * k);
        if (!tmp) {
            dx_fail(err, "cannot allocate %zu MiB for the probabilities",
                    (sizeof *tmp * per * k) >> 20);
            goto done;
        }
    }
    /* running statistics: one image at a time; batch: the whole batch */
    int step = opt.bn == DX_BN_BATCH ? n : 1;
    for (int i = 0; i < n; i += step) {
        const uint8_t *x = (const uint8_t *)img->data + (size_t)i * hw * 3;
        float *p = tmp ? tmp : (float *)prob.data + (size_t)i * per;
        if (dx_model_predict(m, p, x, step, H, W, opt.bn, err)) {
            dx_wrap(err, "frame '%s': ", opt.image);
            goto done;
        }
        /* per image: the arg-max, or the resize (and its arg-max) */
        for (int j = 0; j < step && (opt.argmax || resize); j++) {
            size_t at = (size_t)(i + j);
            const float *pj = p + (size_t)j * per;
            uint8_t *pr = opt.argmax ? (uint8_t *)pred.data + at * ohw : NULL;
            float *cf = opt.argmax ? (float *)conf.data + at * ohw : NULL;
            if (!resize)
                dx_argmax(pr, cf, pj, C, hw);
            else if (dx_prob_resize(opt.argmax ? NULL
                                               : (float *)prob.data + at * oper,
                                    pr, cf, pj, C, H, W, OH, OW, err))
                goto done;
        }
    }
    if (opt.argmax ? tns_stream_put(s, &pred, 1, err) ||
                         tns_stream_put(s, &conf, 1, err)
                   : tns_stream_put(s, &prob, 1, err))
        goto done;
    rc = 0;
done:
    free(tmp);
    tns_frame_free(&prob);
    tns_frame_free(&pred);
    tns_frame_free(&conf);
    return rc;
}

/* The model, and with --teacher-from the stream it comes from. */
typedef struct source {
    dx_model m;
    int loaded;
    tns_reader models;
} source;

/* The next model of the --teacher-from stream into src->m.  1: read; 0:
 * the stream ended; -1: error. */
static int next_model(source *src, dx_err *err)
{
    tns_stream s;
    int got = tns_read_segment(&src->models, &s, err);
    if (got != 1)
        return got;
    if (src->loaded)
        dx_model_free(&src->m);
    src->loaded = 0;
    int rc = dx_model_load(&src->m, &s, err);
    tns_stream_free(&s);
    if (rc)
        return dx_wrap(err, "%s: model %ld: ", src->models.src,
                       src->models.segment - 1);
    src->loaded = 1;
    return 1;
}

/* tns_filter's view of infer(): ctx is the source of the model. */
static int segment(void *ctx, tns_stream *s, long seg, dx_err *err)
{
    source *src = ctx;
    if (opt.models) {
        int got = next_model(src, err);
        if (got < 0)
            return -1;
        if (got == 0)
            return dx_fail(err, "%s ended before the model of batch %ld",
                           opt.models, seg);
    }
    src->m.coll = opt.coll; /* a model loaded anew has none */
    return infer(&src->m, s, err);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    enum { O_IN = DX_OPT_TOOL, O_OUT, O_ARGMAX, O_PRED, O_CONF, O_BN,
           O_MODELS, O_SIZE, O_SIZEWH, O_MPI };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"in", required_argument, NULL, O_IN},
        {"out", required_argument, NULL, O_OUT},
        {"argmax", no_argument, NULL, O_ARGMAX},
        {"pred", required_argument, NULL, O_PRED},
        {"conf", required_argument, NULL, O_CONF},
        {"bn", required_argument, NULL, O_BN},
        {"teacher-from", required_argument, NULL, O_MODELS},
        {"size-of", required_argument, NULL, O_SIZE},
        {"size", required_argument, NULL, O_SIZEWH},
        {"mpi", required_argument, NULL, O_MPI},
        {0, 0, 0, 0}};
    int c;
    while ((c = dx_cli_next(&opt.cli, argc, argv, "m:", longopts)) != -1) {
        switch (c) {
        case 'm':
            opt.model = optarg;
            break;
        case O_IN:
            opt.image = dx_arg_frame("--in", optarg, tns_name_ok);
            break;
        case O_OUT:
            opt.prob = dx_arg_frame("--out", optarg, tns_name_ok);
            break;
        case O_ARGMAX:
            opt.argmax = 1;
            break;
        case O_PRED:
            opt.pred = dx_arg_frame("--pred", optarg, tns_name_ok);
            break;
        case O_CONF:
            opt.conf = dx_arg_frame("--conf", optarg, tns_name_ok);
            break;
        case O_MODELS:
            opt.models = optarg;
            break;
        case O_BN:
            opt.bn = dx_arg_enum("--bn", optarg, BN_WORDS) == 0
                         ? DX_BN_RUNNING
                         : DX_BN_BATCH;
            break;
        case O_SIZE:
            opt.size_of = dx_arg_frame("--size-of", optarg, tns_name_ok);
            break;
        case O_MPI:
            opt.mpi = optarg;
            break;
        case O_SIZEWH:
            dx_arg_size("--size", optarg, DX_MAX_IMAGE_SIDE, &opt.size_w,
                        &opt.size_h);
            break;
        case 'h':
            dx_cli_help(&opt.cli, USAGE, DEFAULT_IMAGE, DEFAULT_PROB,
                        DEFAULT_PRED, DEFAULT_CONF, BN_WORDS[0]);
        }
    }
    dx_cli_end(&opt.cli, argc, argv);
    if (!opt.model == !opt.models)
        dx_die(opt.model ? "-m and --teacher-from both give the model; give "
                           "one"
                         : "no model: give the checkpoint with -m CKPT");
    if (opt.size_of && opt.size_w)
        dx_die("--size-of and --size both set the output size; give one");
    if (opt.argmax && !strcmp(opt.pred, opt.conf))
        dx_die("--pred and --conf are both '%s'", opt.pred);
    if (opt.mpi && opt.bn != DX_BN_BATCH)
        dx_die("--mpi synchronises batch statistics: it needs --bn batch "
               "(running statistics are the same on every rank)");
    tns_set_live(opt.cli.live);
    dx_err err;
    static source src;
    if (opt.models) {
        /* A model per batch: the activation buffers are freed and taken
         * again each time; keep them in the heap (no mmap, no trimming)
         * so that they are not faulted in afresh every batch. */
        mallopt(M_MMAP_MAX, 0);
        mallopt(M_TRIM_THRESHOLD, -1);
        if (tns_open(&src.models, opt.models, &err))
            dx_die_err(&err);
    } else if (dx_model_read(&src.m, opt.model, &err)) {
        dx_die_err(&err);
    } else {
        src.loaded = 1;
    }
    static dx_coll coll;
    if (opt.mpi) {
        if (dx_coll_open(&coll, opt.mpi, "seg-infer", &err))
            dx_die_err(&err);
        opt.coll = &coll;
    }
    if (tns_filter(opt.cli.in, opt.cli.out, segment, &src, NULL, 0, &err))
        dx_die_err(&err);
    dx_coll_close(opt.coll);
    if (opt.models) {
        /* The output is complete: close it, so that the stages after
         * this one end and the one that writes MODELS can end too. */
        if (!opt.cli.out || !strcmp(opt.cli.out, "-"))
            close(STDOUT_FILENO);
        /* the model after the last batch's step, then the end */
        int got = next_model(&src, &err);
        if (got == 0)
            dx_die("%s ended with the last batch; expected one more model "
                   "(the one its step made)", opt.models);
        if (got == 1 && (got = next_model(&src, &err)) == 1)
            dx_die("%s has more models than batches + 1", opt.models);
        if (got < 0)
            dx_die_err(&err);
        tns_close(&src.models);
    }
    if (src.loaded)
        dx_model_free(&src.m);
    return 0;
}
