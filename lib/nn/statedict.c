/* statedict.c - recognition, import and export of state_dicts; see
 * statedict.h. */
#include "nn/statedict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the networks, and their architecture from names and shapes ---- */

/* The tensors under one prefix, names without it (views into ts). */
typedef struct sub {
    dx_tspec *t;
    const dx_tentry **e;
    int n;
} sub;

/* The mapped tensor called name in s, or NULL. */
static const dx_tspec *mapped(const sub *s, const dx_keymap *m,
                              const char *name)
{
    char out[DX_KEY_MAX + 1];
    const dx_rule *r;
    for (int k = 0; k < s->n; k++)
        if (dx_keymap_apply(m, s->t[k].name, out, sizeof out, &r) ==
                DX_KEY_MAPPED &&
            !strcmp(out, name))
            return &s->t[k];
    return NULL;
}

/* deeplab-mini: the width from the first convolution (w x 3 x 3 x 3),
 * the classes from the head (C x 4w x 3 x 3) when the file has one, else
 * 0. */
static int infer_mini(const sub *s, const dx_keymap *m, dx_arch *a)
{
    const dx_tspec *c = mapped(s, m, "stem.0.conv.weight");
    if (!c || c->rank != 4 || c->dims[1] != 3 || c->dims[0] < 1 ||
        c->dims[0] > DX_ARCH_MAX_WIDTH)
        return -1;
    dx_arch_default(a);
    a->width = (int)c->dims[0];
    a->classes = 0;
    const dx_tspec *h = mapped(s, m, "head.0.weight");
    if (h && h->rank == 4 && h->dims[0] >= 1 &&
        h->dims[0] <= DX_ARCH_MAX_CLASSES)
        a->classes = (int)h->dims[0];
    return 0;
}

/* deeplabv2: the width from conv1 (w x 3 x 7 x 7), the block kind from
 * layer1.0.conv3, the blocks from the highest block of each layer, the
 * classes from layer5 when the file has it; depth the one with those
 * blocks (else 50 or 18 with explicit blocks), 0 classes for a file
 * without the head; style, heads, bn, order, mean and std are not in the
 * tensors: the map's (statedict.h), which the options override. */
static int infer_deeplabv2(const sub *s, const dx_keymap *m, dx_arch *a)
{
    const dx_tspec *c = mapped(s, m, "conv1.weight");
    if (!c || c->rank != 4 || c->dims[1] != 3 || c->dims[2] != 7 ||
        c->dims[0] < 1 || c->dims[0] > DX_ARCH_MAX_WIDTH)
        return -1;
    dx_arch_defaults(a, DX_NET_DEEPLABV2);
    a->width = (int)c->dims[0];
    int top[4] = {-1, -1, -1, -1}, bottleneck = 0;
    char out[DX_KEY_MAX + 1];
    const dx_rule *r;
    for (int k = 0; k < s->n; k++) {
        int L, b, n = 0;
        if (dx_keymap_apply(m, s->t[k].name, out, sizeof out, &r) !=
            DX_KEY_MAPPED)
            continue;
        if (sscanf(out, "layer%d.%d.conv1.weight%n", &L, &b, &n) == 2 &&
            !out[n] && L >= 1 && L <= 4 && b >= 0 &&
            b < DX_ARCH_MAX_BLOCKS && b > top[L - 1])
            top[L - 1] = b;
        bottleneck |= !strcmp(out, "layer1.0.conv3.weight");
    }
    for (int L = 0; L < 4; L++) {
        if (top[L] < 0)
            return -1;
        a->blocks[L] = top[L] + 1;
    }
    static const int depths[] = {18, 34, 50, 101, 152};
    a->depth = bottleneck ? 50 : 18;
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        int d[4];
        dx_arch_depth_blocks(depths[i], d);
        if ((depths[i] >= 50) == bottleneck &&
            !memcmp(d, a->blocks, sizeof d))
            a->depth = depths[i];
    }
    a->classes = 0;
    const dx_tspec *h = mapped(s, m, "layer5.conv2d_list.0.weight");
    if (h && h->rank == 4 && h->dims[0] >= 1 &&
        h->dims[0] <= DX_ARCH_MAX_CLASSES)
        a->classes = (int)h->dims[0];
    /* torchvision's and mmsegmentation's ResNets: the stride in the 3x3
     * (v1.5), RGB input with ImageNet's mean and std; mmsegmentation's
     * DeepLabv2 head sums every branch it has */
    if (!strcmp(m->name, "torchvision") || !strcmp(m->name, "mmseg")) {
        a->style = DX_STYLE_PYTORCH;
        a->order = DX_ORDER_RGB;
        dx_arch_norm_of(a->order, a->mean, a->std);
    }
    if (!strcmp(m->name, "mmseg")) {
        int heads = 0;
        char name[64];
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "layer5.conv2d_list.%d.weight", k);
            heads += mapped(s, m, name) != NULL;
        }
        if (heads)
            a->heads = heads;
    }
    return 0;
}

static const struct net {
    const char *name;
    int (*infer)(const sub *s, const dx_keymap *m, dx_arch *a);
    const char *head; /* the classifier's tensors, a key-map pattern */
} NETS[] = {
    {"deeplab-mini", infer_mini, "head.*"},
    {"deeplabv2", infer_deeplabv2, "layer5.*"},
};
#define NNETS ((int)(sizeof NETS / sizeof NETS[0]))

/* The network's architecture for the tensors s through m, with the
 * options over it (nn/arch.h); *file_classes the classes of the file's
 * head.  -1 when the network cannot say it (err unset) or the options do
 * not fit it (err set, *bad 1). */
static int arch_for(const struct net *net, const sub *s, const dx_keymap *m,
                    const dx_arch_opts *over, dx_arch *a, int *file_classes,
                    int *bad, dx_err *err)
{
    if (net->infer(s, m, a))
        return -1;
    *file_classes = a->classes; /* 0: the file has no head */
    if (!a->classes) {
        dx_arch d;
        dx_arch_defaults(&d, a->net);
        a->classes = d.classes;
    }
    if (over && dx_arch_opts_apply(over, a, err)) {
        *bad = 1;
        return -1;
    }
    return 0;
}

/* ---- the network's tensors ---- */

typedef struct target {
    dx_arch arch;
    dx_tspec *t;
    char **names;
    int64_t (*dims)[DX_TS_MAX_RANK];
    int n;
} target;

static void target_free(target *g)
{
    for (int i = 0; g->names && i < g->n; i++)
        free(g->names[i]);
    free(g->t);
    free(g->names);
    free(g->dims);
    memset(g, 0, sizeof *g);
}

/* The tensor table of a network of a (its description: nothing is
 * allocated for its values). */
static int target_of(const dx_arch *a, target *g, dx_err *err)
{
    dx_net m;
    memset(g, 0, sizeof *g);
    if (dx_arch_check(a, err) || dx_net_build(&m, a, err))
        return -1;
    g->arch = *a;
    g->n = m.nt;
    g->t = calloc((size_t)m.nt, sizeof *g->t);
    g->names = calloc((size_t)m.nt, sizeof *g->names);
    g->dims = calloc((size_t)m.nt, sizeof *g->dims);
    int ok = g->t && g->names && g->dims;
    for (int i = 0; ok && i < m.nt; i++) {
        ok = (g->names[i] = strdup(m.t[i].name)) != NULL &&
             m.t[i].rank <= DX_TS_MAX_RANK;
        for (int d = 0; ok && d < m.t[i].rank; d++)
            g->dims[i][d] = m.t[i].dims[d];
        g->t[i] = (dx_tspec){g->names[i], m.t[i].rank, g->dims[i], 1};
    }
    dx_net_free(&m);
    if (!ok) {
        target_free(g);
        return dx_fail(err, "out of memory");
    }
    return 0;
}

static int same_arch(const dx_arch *a, const dx_arch *b)
{
    char x[DX_ARCH_MAX_TEXT + 1], y[DX_ARCH_MAX_TEXT + 1];
    return dx_arch_format(a, x, sizeof x) >= 0 &&
           dx_arch_format(b, y, sizeof y) >= 0 && !strcmp(x, y);
}

/* ---- the file's state_dicts ---- */

static void sub_free(sub *s)
{
    free(s->t);
    free(s->e);
    memset(s, 0, sizeof *s);
}

/* The tensors of ts under prefix. */
static int sub_of(const dx_tset *ts, const char *prefix, sub *s,
                  dx_err *err)
{
    size_t pl = strlen(prefix);
    memset(s, 0, sizeof *s);
    s->t = calloc((size_t)(ts->n ? ts->n : 1), sizeof *s->t);
    s->e = calloc((size_t)(ts->n ? ts->n : 1), sizeof *s->e);
    if (!s->t || !s->e) {
        sub_free(s);
        return dx_fail(err, "out of memory");
    }
    for (int k = 0; k < ts->n; k++) {
        const dx_tentry *e = &ts->v[k];
        if (e->kind != DX_TE_TENSOR || strncmp(e->name, prefix, pl) ||
            !e->name[pl])
            continue;
        s->e[s->n] = e;
        s->t[s->n++] = (dx_tspec){e->name + pl, e->rank, e->dims,
                                  dx_ttype_is_float(e->dtype)};
    }
    return 0;
}

/* "model" -> "model.", "model." and "" unchanged. */
static void norm_prefix(char *out, const char *key)
{
    size_t n = strlen(key);
    snprintf(out, DX_SD_PREFIX, "%s%s", key, n && key[n - 1] != '.' ? "."
                                                                     : "");
}

static int teacher_named(const char *prefix)
{
    static const char *const T[] = {"ema_model", "ema", "teacher",
                                    "model_ema", "mean_teacher", NULL};
    char buf[DX_SD_PREFIX], *save, *c;
    snprintf(buf, sizeof buf, "%s", prefix);
    for (c = strtok_r(buf, ".", &save); c; c = strtok_r(NULL, ".", &save))
        for (int i = 0; T[i]; i++)
            if (!strcmp(c, T[i]))
                return 1;
    return 0;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every prefix at a '.' boundary of a tensor name, "" included, sorted
 * and unique; free the list and its strings. */
static int prefixes(const dx_tset *ts, char ***out, int *n, dx_err *err)
{
    int cap = 16, cnt = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    if (!v || !(v[cnt++] = strdup("")))
        goto oom;
    for (int k = 0; k < ts->n; k++) {
        const char *name = ts->v[k].name;
        if (ts->v[k].kind != DX_TE_TENSOR)
            continue;
        for (const char *d = strchr(name, '.'); d; d = strchr(d + 1, '.')) {
            if (cnt == cap) {
                char **nv = realloc(v, (size_t)(cap *= 2) * sizeof *nv);
                if (!nv)
                    goto oom;
                v = nv;
            }
            if (!(v[cnt] = strndup(name, (size_t)(d - name) + 1)))
                goto oom;
            cnt++;
        }
    }
    qsort(v, (size_t)cnt, sizeof *v, by_str);
    int u = 0;
    for (int i = 0; i < cnt; i++) {
        if (u && !strcmp(v[u - 1], v[i]))
            free(v[i]);
        else
            v[u++] = v[i];
    }
    *out = v;
    *n = u;
    return 0;
oom:
    for (int i = 0; v && i < cnt; i++)
        free(v[i]);
    free(v);
    return dx_fail(err, "out of memory");
}

/* ---- recognition ---- */

typedef struct cand {
    int map, tgt, net;   /* indices into the maps, targets and NETS */
    const char *prefix;
    int imported, problems, teacher;
    int file_classes;    /* of the file's head, before the options */
} cand;

/* Is a better than b? */
static int better(const cand *a, const cand *b)
{
    if (a->imported != b->imported)
        return a->imported > b->imported;
    if (a->problems != b->problems)
        return a->problems < b->problems;
    return !a->teacher && b->teacher;
}

static int equal(const cand *a, const cand *b)
{
    return a->imported == b->imported && a->problems == b->problems &&
           a->teacher == b->teacher;
}

typedef struct search {
    const dx_tset *ts;
    const dx_sd_opts *o;
    dx_keymap maps[4];
    int nmaps;
    target tg[8];
    int ntg;
    cand *c;
    int nc, cc;
} search;

static void search_free(search *s)
{
    for (int i = 0; i < s->nmaps; i++)
        dx_keymap_free(&s->maps[i]);
    for (int i = 0; i < s->ntg; i++)
        target_free(&s->tg[i]);
    free(s->c);
}

/* The targets' index for arch a, made when new. */
static int target_index(search *s, const dx_arch *a, dx_err *err)
{
    for (int i = 0; i < s->ntg; i++)
        if (same_arch(&s->tg[i].arch, a))
            return i;
    if (s->ntg == (int)(sizeof s->tg / sizeof s->tg[0]))
        return dx_fail(err, "the file's state_dicts imply more than %d "
                       "architectures", s->ntg);
    if (target_of(a, &s->tg[s->ntg], err))
        return -1;
    return s->ntg++;
}

/* The network the options name (its index in NETS, which follows enum
 * dx_net_id), or -1. */
static int want_net(const dx_sd_opts *o)
{
    return o->arch && dx_arch_opt_given(o->arch, "net") ? o->arch->v.net
                                                         : -1;
}
_Static_assert(DX_NET_MINI == 0 && DX_NET_DEEPLABV2 == 1 && DX_NET_END == 2,
               "NETS is in the order of enum dx_net_id");

/* Other classes than the file's head has (file_classes, 0 for none):
 * the head is left to initialise (e.g. the 21 of the DACS COCO file when
 * a run wants 19), by a rule named after the option. */
static int head_rule(dx_keymap *m, const struct net *net, int file_classes,
                     int classes, dx_err *err)
{
    if (!file_classes || file_classes == classes)
        return 0;
    return dx_keymap_add(m, DX_RULE_INIT, net->head, NULL, "--classes", err);
}

/* Try one prefix with every map and network. */
static int try_prefix(search *s, const char *prefix, dx_err *err)
{
    sub sb;
    if (sub_of(s->ts, prefix, &sb, err))
        return -1;
    int rc = 0;
    for (int mi = 0; mi < s->nmaps && !rc && sb.n; mi++)
        for (int ni = 0; ni < NNETS && !rc; ni++) {
            dx_arch a;
            int bad = 0, classes;
            if (want_net(s->o) >= 0 && want_net(s->o) != ni)
                continue;
            if (arch_for(&NETS[ni], &sb, &s->maps[mi], s->o->arch, &a,
                         &classes, &bad, err)) {
                rc = bad ? -1 : 0;
                continue;
            }
            int ti = target_index(s, &a, err);
            dx_keymap hm;
            dx_match r;
            dx_keymap_init(&hm, s->maps[mi].name);
            if (ti < 0 || dx_keymap_extend(&hm, &s->maps[mi], err) ||
                head_rule(&hm, &NETS[ni], classes, a.classes, err) ||
                dx_keymap_match(&hm, sb.t, sb.n, s->tg[ti].t, s->tg[ti].n,
                                &r, err)) {
                dx_keymap_free(&hm);
                rc = -1;
                break;
            }
            dx_keymap_free(&hm);
            if (s->nc == s->cc) {
                int cap = s->cc ? 2 * s->cc : 16;
                cand *nc = realloc(s->c, (size_t)cap * sizeof *nc);
                if (!nc) {
                    dx_match_free(&r);
                    rc = dx_fail(err, "out of memory");
                    break;
                }
                s->c = nc;
                s->cc = cap;
            }
            s->c[s->nc++] = (cand){mi, ti, ni, prefix, r.imported,
                                   r.nproblem, teacher_named(prefix),
                                   classes};
            dx_match_free(&r);
        }
    sub_free(&sb);
    return rc;
}

static int load_maps(search *s, dx_err *err)
{
    for (int i = 0; dx_keymap_names[i]; i++) {
        if (s->o->map && strcmp(s->o->map, dx_keymap_names[i]))
            continue;
        dx_keymap *m = &s->maps[s->nmaps];
        if (dx_keymap_builtin(m, dx_keymap_names[i], err))
            return -1;
        s->nmaps++;
        if (s->o->extra && dx_keymap_extend(m, s->o->extra, err))
            return -1;
    }
    if (!s->nmaps)
        return dx_keymap_builtin(&s->maps[0], s->o->map, err);
    return 0;
}

/* The best candidate, by better(); -1 if none imports anything.  *tie is
 * set to a candidate of another prefix that is equally good. */
static int best_of(const search *s, int (*keep)(const cand *, const void *),
                   const void *ctx, int *tie)
{
    int b = -1;
    *tie = -1;
    for (int i = 0; i < s->nc; i++) {
        if (s->c[i].imported == 0 || (keep && !keep(&s->c[i], ctx)))
            continue;
        if (b < 0 || better(&s->c[i], &s->c[b])) {
            b = i;
            *tie = -1;
        } else if (equal(&s->c[i], &s->c[b]) &&
                   strcmp(s->c[i].prefix, s->c[b].prefix) && *tie < 0) {
            *tie = i;
        }
    }
    return b;
}

/* A teacher: named so, same network and map as the student, not it. */
static int teacher_of(const cand *c, const void *student)
{
    const cand *st = student;
    return c->teacher && c->tgt == st->tgt && c->map == st->map &&
           strcmp(c->prefix, st->prefix) != 0;
}

/* The file's 'iteration' beside the state_dict under root: in the dict
 * that holds the state_dict's dict (the group of its tensors, in a
 * pickle), or, in a flat file, beside the root's last component. */
static int iteration_of(const dx_tset *ts, const char *root, int64_t *it)
{
    char base[DX_SD_PREFIX], name[DX_SD_PREFIX + 16];
    size_t rl = strlen(root);
    snprintf(base, sizeof base, "%.*s", (int)(rl ? rl - 1 : 0), root);
    for (int k = 0; k < ts->n; k++)
        if (ts->v[k].kind == DX_TE_TENSOR && ts->v[k].group[0] &&
            !strncmp(ts->v[k].name, root, rl)) {
            snprintf(base, sizeof base, "%s", ts->v[k].group);
            break;
        }
    char *dot = strrchr(base, '.');
    size_t n = dot ? (size_t)(dot - base) + 1 : 0;
    snprintf(name, sizeof name, "%.*siteration", (int)n, base);
    int k = dx_tset_find(ts, name);
    if (k < 0)
        return 0;
    const dx_tentry *e = &ts->v[k];
    if (!e->i || e->dtype == DX_TT_BOOL || e->kind == DX_TE_BOOL ||
        (e->kind == DX_TE_TENSOR && (e->rank != 0 ||
                                     dx_ttype_is_float(e->dtype))))
        return 0;
    *it = e->i[0];
    return 1;
}

int dx_sd_recognise(const dx_tset *ts, const dx_sd_opts *o, dx_sd_plan *p,
                    dx_err *err)
{
    search s = {.ts = ts, .o = o};
    char **pre = NULL, key[DX_SD_PREFIX], tkey[DX_SD_PREFIX];
    int npre = 0, rc = -1;
    memset(p, 0, sizeof *p);
    if (load_maps(&s, err))
        goto out;
    if (o->key)
        norm_prefix(key, o->key);
    if (o->teacher_key)
        norm_prefix(tkey, o->teacher_key);
    if (prefixes(ts, &pre, &npre, err))
        goto out;
    for (int i = 0; i < npre; i++) {
        int wanted = (!o->key && !o->teacher_key) ||
                     (o->key && !strcmp(pre[i], key)) ||
                     (o->teacher_key && !strcmp(pre[i], tkey)) ||
                     (o->key && !o->teacher_key && o->teacher);
        if (wanted && try_prefix(&s, pre[i], err))
            goto out;
    }
    int tie, b;
    if (o->key) {
        b = -1;
        for (int i = 0; i < s.nc; i++)
            if (!strcmp(s.c[i].prefix, key) &&
                (b < 0 || better(&s.c[i], &s.c[b])))
                b = i;
        tie = -1;
        if (b < 0) {
            dx_fail(err, "no state_dict of a network this dacs builds under "
                    "'%s' (see --list)", key);
            goto out;
        }
    } else {
        b = best_of(&s, NULL, NULL, &tie);
    }
    if (b < 0 || s.c[b].imported == 0) {
        dx_fail(err, "no state_dict in the file fits %s%s under map%s %s "
                "(see --list for its keys)", want_net(o) >= 0 ? "" : "the "
                "networks of this dacs: ", want_net(o) >= 0
                                               ? NETS[want_net(o)].name
                                               : "deeplab-mini or deeplabv2",
                o->map ? "" : "s", o->map ? o->map : "dacs, torchvision, "
                "mmseg");
        goto out;
    }
    if (tie >= 0) {
        dx_fail(err, "two state_dicts fit equally, under '%s' and '%s': "
                "choose one with --key", s.c[b].prefix, s.c[tie].prefix);
        goto out;
    }
    const cand *st = &s.c[b];
    int t = -1;
    if (o->teacher_key) {
        for (int i = 0; i < s.nc; i++)
            if (!strcmp(s.c[i].prefix, tkey) && s.c[i].tgt == st->tgt &&
                s.c[i].map == st->map)
                t = i;
        if (t < 0) {
            dx_fail(err, "no state_dict of the student's network under "
                    "'%s'", tkey);
            goto out;
        }
    } else {
        int ttie;
        t = best_of(&s, teacher_of, st, &ttie);
    }
    if (o->teacher && t < 0) {
        dx_fail(err, "no teacher (an EMA state_dict such as 'ema_model') "
                "beside the student '%s'", st->prefix);
        goto out;
    }
    dx_keymap_init(&p->map, s.maps[st->map].name);
    if (dx_keymap_extend(&p->map, &s.maps[st->map], err))
        goto out;
    if (head_rule(&p->map, &NETS[st->net], st->file_classes,
                  s.tg[st->tgt].arch.classes, err))
        goto out;
    snprintf(p->root, sizeof p->root, "%s", st->prefix);
    if (t >= 0)
        snprintf(o->teacher ? p->teacher : p->spare, DX_SD_PREFIX, "%s",
                 s.c[t].prefix);
    p->has_teacher = o->teacher && t >= 0;
    p->arch = s.tg[st->tgt].arch;
    p->imported = st->imported;
    p->ntensors = s.tg[st->tgt].n;
    p->has_iteration = iteration_of(ts, p->root, &p->iteration);
    if (!p->has_iteration)
        p->iteration = -1;
    rc = 0;
out:
    for (int i = 0; i < npre; i++)
        free(pre[i]);
    free(pre);
    search_free(&s);
    if (rc)
        dx_sd_plan_free(p);
    return rc;
}

void dx_sd_plan_free(dx_sd_plan *p)
{
    dx_keymap_free(&p->map);
    memset(p, 0, sizeof *p);
}

/* ---- import ---- */

static int copy_in(dx_tensor *t, const dx_tentry *e, dx_err *err)
{
    for (size_t j = 0; j < t->count; j++) {
        if (!isfinite(e->f[j]))
            return dx_fail(err, "tensor '%s' element %zu is %g, expected a "
                           "finite number", e->name, j, (double)e->f[j]);
        t->data[j] = e->f[j];
    }
    const char *leaf = strrchr(t->name, '.');
    for (size_t j = 0; leaf && !strcmp(leaf, ".running_var") &&
                       j < t->count; j++)
        if (t->data[j] < 0)
            return dx_fail(err, "tensor '%s' element %zu is %g, expected a "
                           "variance >= 0", e->name, j, (double)t->data[j]);
    return 0;
}

int dx_sd_import(dx_model *m, const dx_tset *ts, const dx_sd_plan *p,
                 const char *root, uint64_t seed, dx_match *r, dx_err *err)
{
    sub sb;
    target g;
    memset(r, 0, sizeof *r);
    if (target_of(&p->arch, &g, err))
        return -1;
    if (sub_of(ts, root, &sb, err)) {
        target_free(&g);
        return -1;
    }
    int rc = dx_keymap_match(&p->map, sb.t, sb.n, g.t, g.n, r, err);
    if (!rc && r->nproblem)
        rc = dx_fail(err, "%d tensor%s under '%s' not accounted for by map "
                     "'%s'", r->nproblem, r->nproblem > 1 ? "s" : "", root,
                     p->map.name);
    if (!rc && dx_model_init(m, &p->arch, seed, err))
        rc = -1;
    else if (!rc) {
        for (int i = 0; i < m->nt && !rc; i++) {
            if (r->tgt_src[i] < 0)
                continue;
            const dx_tentry *e = sb.e[r->tgt_src[i]];
            if (!e->f)
                rc = dx_fail(err, "tensor '%s' was read without its data",
                             e->name);
            else
                rc = copy_in(&m->t[i], e, err);
        }
        if (rc)
            dx_model_free(m);
    }
    sub_free(&sb);
    target_free(&g);
    return rc;
}

/* ---- export ---- */

static dx_tentry *export_add(dx_tset *ts, const char *group,
                             const char *prefix, const char *name,
                             dx_err *err)
{
    char full[DX_TS_MAX_NAME + 1];
    int n = snprintf(full, sizeof full, "%s%s%s%s", group, *group ? "." : "",
                     prefix, name);
    if (n < 0 || (size_t)n >= sizeof full) {
        dx_fail(err, "name '%s%s' too long", prefix, name);
        return NULL;
    }
    return dx_tset_add(ts, group, full, DX_TE_TENSOR, err);
}

int dx_sd_export(const dx_model *m, dx_tset *ts, const char *group,
                 const char *prefix, dx_err *err)
{
    static const char RV[] = ".running_var";
    for (int i = 0; i < m->nt; i++) {
        const dx_tensor *t = &m->t[i];
        dx_tentry *e = export_add(ts, group, prefix, t->name, err);
        if (!e || dx_tentry_shape(e, DX_TT_F32, t->rank, t->dims,
                                  DX_TS_MAX_FILE, err) ||
            dx_tentry_alloc(e, err))
            return -1;
        memcpy(e->f, t->data, t->count * sizeof *e->f);
        size_t n = strlen(t->name), l = sizeof RV - 1;
        if (n <= l || strcmp(t->name + n - l, RV) != 0)
            continue;
        char nbt[DX_KEY_MAX + 32];
        snprintf(nbt, sizeof nbt, "%.*s.num_batches_tracked", (int)(n - l),
                 t->name);
        e = export_add(ts, group, prefix, nbt, err);
        if (!e || dx_tentry_shape(e, DX_TT_I64, 0, NULL, 8, err) ||
            dx_tentry_alloc(e, err))
            return -1;
        e->i[0] = 0;
    }
    return 0;
}
