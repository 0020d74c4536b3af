/* test_pickle.c - the data-only unpickler and the pickle writer: plain
 * data of protocols 0, 2 and 4 as CPython writes it, torch.save's tensors,
 * parameters and state_dict _metadata, and every refusal: the globals and
 * opcodes that could run code, truncation at every byte, and malformed
 * stacks, memos and rebuild calls. */
#include <string.h>

#include "check.h"
#include "io/pickle.h"

/* Pickles made by CPython 3.11 and PyTorch 1.13 (tests/ref has none of
 * these: they are small enough to read here):
 * P4    pickle.dumps({'a': [1, 2.5, None, True, 'xxx', b'yy', (1, 2)],
 *                     'big': 2**40, 'neg': -5, 'u': 'é'}, protocol=4)
 * P0    pickle.dumps([1, -3, 2.5, None, True, 10**12], protocol=0)
 * PARAM data.pkl of torch.save({'p': nn.Parameter(torch.ones(2))})
 * META  data.pkl of torch.save(OrderedDict(w=torch.zeros(2, 3))) with
 *       _metadata {'': {'version': 1}} */
static const char P4[] =
    "\x80\x04\x95\x4d\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94"
    "\x5d\x94\x28\x4b\x01\x47\x40\x04\x00\x00\x00\x00\x00\x00\x4e\x88\x8c\x03"
    "\x78\x78\x78\x94\x43\x02\x79\x79\x94\x4b\x01\x4b\x02\x86\x94\x65\x8c\x03"
    "\x62\x69\x67\x94\x8a\x06\x00\x00\x00\x00\x00\x01\x8c\x03\x6e\x65\x67\x94"
    "\x4a\xfb\xff\xff\xff\x8c\x01\x75\x94\x8c\x02\xc3\xa9\x94\x75\x2e"
    ;  /* 88 bytes */
static const char P0[] =
    "\x28\x6c\x70\x30\x0a\x49\x31\x0a\x61\x49\x2d\x33\x0a\x61\x46\x32\x2e\x35"
    "\x0a\x61\x4e\x61\x49\x30\x31\x0a\x61\x4c\x31\x30\x30\x30\x30\x30\x30\x30"
    "\x30\x30\x30\x30\x30\x4c\x0a\x61\x2e"
    ;  /* 45 bytes */
static const char PARAM[] =
    "\x80\x02\x7d\x71\x00\x58\x01\x00\x00\x00\x70\x71\x01\x63\x74\x6f\x72\x63"
    "\x68\x2e\x5f\x75\x74\x69\x6c\x73\x0a\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f"
    "\x70\x61\x72\x61\x6d\x65\x74\x65\x72\x0a\x71\x02\x63\x74\x6f\x72\x63\x68"
    "\x2e\x5f\x75\x74\x69\x6c\x73\x0a\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f\x74"
    "\x65\x6e\x73\x6f\x72\x5f\x76\x32\x0a\x71\x03\x28\x28\x58\x07\x00\x00\x00"
    "\x73\x74\x6f\x72\x61\x67\x65\x71\x04\x63\x74\x6f\x72\x63\x68\x0a\x46\x6c"
    "\x6f\x61\x74\x53\x74\x6f\x72\x61\x67\x65\x0a\x71\x05\x58\x01\x00\x00\x00"
    "\x30\x71\x06\x58\x03\x00\x00\x00\x63\x70\x75\x71\x07\x4b\x02\x74\x71\x08"
    "\x51\x4b\x00\x4b\x02\x85\x71\x09\x4b\x01\x85\x71\x0a\x89\x63\x63\x6f\x6c"
    "\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69"
    "\x63\x74\x0a\x71\x0b\x29\x52\x71\x0c\x74\x71\x0d\x52\x71\x0e\x88\x68\x0b"
    "\x29\x52\x71\x0f\x87\x71\x10\x52\x71\x11\x73\x2e"
    ;  /* 210 bytes */
static const char META[] =
    "\x80\x02\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64"
    "\x65\x72\x65\x64\x44\x69\x63\x74\x0a\x71\x00\x29\x52\x71\x01\x58\x01\x00"
    "\x00\x00\x77\x71\x02\x63\x74\x6f\x72\x63\x68\x2e\x5f\x75\x74\x69\x6c\x73"
    "\x0a\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f\x74\x65\x6e\x73\x6f\x72\x5f\x76"
    "\x32\x0a\x71\x03\x28\x28\x58\x07\x00\x00\x00\x73\x74\x6f\x72\x61\x67\x65"
    "\x71\x04\x63\x74\x6f\x72\x63\x68\x0a\x46\x6c\x6f\x61\x74\x53\x74\x6f\x72"
    "\x61\x67\x65\x0a\x71\x05\x58\x01\x00\x00\x00\x30\x71\x06\x58\x03\x00\x00"
    "\x00\x63\x70\x75\x71\x07\x4b\x06\x74\x71\x08\x51\x4b\x00\x4b\x02\x4b\x03"
    "\x86\x71\x09\x4b\x03\x4b\x01\x86\x71\x0a\x89\x68\x00\x29\x52\x71\x0b\x74"
    "\x71\x0c\x52\x71\x0d\x73\x7d\x71\x0e\x58\x09\x00\x00\x00\x5f\x6d\x65\x74"
    "\x61\x64\x61\x74\x61\x71\x0f\x68\x00\x29\x52\x71\x10\x58\x00\x00\x00\x00"
    "\x71\x11\x7d\x71\x12\x58\x07\x00\x00\x00\x76\x65\x72\x73\x69\x6f\x6e\x71"
    "\x13\x4b\x01\x73\x73\x73\x62\x2e"
    ;  /* 224 bytes */

static int load(dx_pickle *p, const char *b, size_t n, int flags, dx_err *e)
{
    return dx_pickle_load(p, (const unsigned char *)b, n, flags, e);
}

/* The pickle must be refused with a message holding want. */
static void refused(const char *what, const char *b, size_t n, int flags,
                    const char *want)
{
    dx_pickle p;
    dx_err e = {""};
    int rc = load(&p, b, n, flags, &e);
    CHECK(rc == -1 && strstr(e.msg, want), "%s refused naming '%s': %s",
          what, want, e.msg);
    if (rc == 0)
        dx_pickle_free(&p);
}

static void test_protocol4(void)
{
    dx_pickle p;
    dx_err e;
    CHECK(load(&p, P4, sizeof P4 - 1, 0, &e) == 0, "protocol 4 data: %s",
          e.msg);
    CHECK(p.used == sizeof P4 - 1, "read to its STOP");
    const dx_pv *a = dx_pv_get(p.root, "a");
    CHECK(p.root->kind == DX_PV_DICT && p.root->u.seq.n == 4 && a &&
              a->kind == DX_PV_LIST && a->u.seq.n == 7,
          "dict of 4, 'a' a list of 7");
    dx_pv *const *v = a->u.seq.item;
    CHECK(v[0]->kind == DX_PV_INT && v[0]->u.i == 1, "int 1");
    CHECK(v[1]->kind == DX_PV_FLOAT && v[1]->u.f == 2.5, "BINFLOAT 2.5");
    CHECK(v[2]->kind == DX_PV_NONE && v[3]->kind == DX_PV_BOOL &&
              v[3]->u.i == 1,
          "None, True");
    CHECK(v[4]->kind == DX_PV_STR && !strcmp(v[4]->u.str.s, "xxx"), "str");
    CHECK(v[5]->kind == DX_PV_BYTES && v[5]->u.str.len == 2, "bytes");
    CHECK(v[6]->kind == DX_PV_TUPLE && v[6]->u.seq.n == 2 &&
              v[6]->u.seq.item[1]->u.i == 2,
          "tuple (1, 2)");
    const dx_pv *big = dx_pv_get(p.root, "big"),
                *neg = dx_pv_get(p.root, "neg"), *u = dx_pv_get(p.root, "u");
    CHECK(big && big->u.i == (int64_t)1 << 40, "LONG1 2**40");
    CHECK(neg && neg->u.i == -5, "BININT -5");
    CHECK(u && !strcmp(u->u.str.s, "\xc3\xa9"), "UTF-8 kept");
    dx_pickle_free(&p);
}

static void test_protocol0(void)
{
    dx_pickle p;
    dx_err e;
    CHECK(load(&p, P0, sizeof P0 - 1, 0, &e) == 0, "protocol 0: %s", e.msg);
    dx_pv *const *v = p.root->u.seq.item;
    CHECK(p.root->u.seq.n == 6 && v[0]->u.i == 1 && v[1]->u.i == -3 &&
              v[2]->u.f == 2.5 && v[3]->kind == DX_PV_NONE &&
              v[4]->kind == DX_PV_BOOL && v[4]->u.i == 1 &&
              v[5]->u.i == 1000000000000LL,
          "INT, FLOAT, NONE, I01, LONG text opcodes");
    dx_pickle_free(&p);
}

static void test_torch(void)
{
    dx_pickle p;
    dx_err e;
    CHECK(load(&p, PARAM, sizeof PARAM - 1, DX_PK_TORCH, &e) == 0,
          "a parameter: %s", e.msg);
    const dx_pv *t = dx_pv_get(p.root, "p");
    CHECK(t && t->kind == DX_PV_TENSOR && t->u.t.param && t->u.t.rank == 1 &&
              t->u.t.size[0] == 2 && t->u.t.stride[0] == 1,
          "_rebuild_parameter over _rebuild_tensor_v2");
    CHECK(t && t->u.t.storage->u.st.dtype == DX_TT_F32 &&
              t->u.t.storage->u.st.numel == 2 &&
              !strcmp(t->u.t.storage->u.st.key, "0") &&
              !strcmp(t->u.t.storage->u.st.location, "cpu"),
          "persistent id: FloatStorage '0' cpu 2");
    dx_pickle_free(&p);
    refused("a torch pickle without DX_PK_TORCH", PARAM, sizeof PARAM - 1, 0,
            "persistent id");

    CHECK(load(&p, META, sizeof META - 1, DX_PK_TORCH, &e) == 0,
          "a state_dict with _metadata: %s", e.msg);
    const dx_pv *w = dx_pv_get(p.root, "w"),
                *md = dx_pv_get(p.root->u.seq.attrs, "_metadata");
    CHECK(w && w->u.t.rank == 2 && w->u.t.stride[0] == 3 && md &&
              md->kind == DX_PV_DICT,
          "OrderedDict, its tensor, and BUILD's _metadata as attrs");
    dx_pickle_free(&p);

    /* every prefix of a torch pickle is refused cleanly */
    int clean = 1;
    for (size_t n = 0; n + 1 < sizeof META - 1; n++) {
        if (load(&p, META, n, DX_PK_TORCH, &e) == 0) {
            dx_pickle_free(&p);
            clean = 0;
        }
    }
    CHECK(clean, "every truncation of a state_dict pickle is an error");
}

static void test_writer(void)
{
    dx_pkw w;
    dx_err e;
    int64_t dims[3] = {4, 1, 3};
    dx_pkw_init(&w);
    dx_pkw_empty_dict(&w);
    dx_pkw_mark(&w);
    dx_pkw_str(&w, "iteration");
    dx_pkw_int(&w, -70000);
    dx_pkw_str(&w, "big");
    dx_pkw_int(&w, (int64_t)1 << 50);
    dx_pkw_str(&w, "model");
    dx_pkw_ordered_dict(&w);
    dx_pkw_mark(&w);
    dx_pkw_str(&w, "conv.weight");
    dx_pkw_tensor(&w, DX_TT_F32, "7", 3, dims);
    dx_pkw_str(&w, "bn.num_batches_tracked");
    dx_pkw_tensor(&w, DX_TT_I64, "8", 0, dims);
    dx_pkw_setitems(&w);
    dx_pkw_setitems(&w);
    CHECK(dx_pkw_finish(&w, &e) == 0, "writer finishes");
    dx_pickle p;
    CHECK(load(&p, (const char *)w.buf, w.len, DX_PK_TORCH, &e) == 0,
          "the reader reads the writer: %s", e.msg);
    const dx_pv *it = dx_pv_get(p.root, "iteration"),
                *big = dx_pv_get(p.root, "big"),
                *m = dx_pv_get(p.root, "model");
    const dx_pv *cw = dx_pv_get(m, "conv.weight"),
                *nb = dx_pv_get(m, "bn.num_batches_tracked");
    CHECK(it && it->u.i == -70000 && big && big->u.i == (int64_t)1 << 50,
          "ints of 4 and 8 bytes");
    CHECK(cw && cw->u.t.rank == 3 && cw->u.t.stride[0] == 3 &&
              cw->u.t.stride[1] == 3 && cw->u.t.stride[2] == 1 &&
              cw->u.t.storage->u.st.numel == 12 &&
              !strcmp(cw->u.t.storage->u.st.key, "7"),
          "a contiguous tensor: row-major strides, numel 12");
    CHECK(nb && nb->u.t.rank == 0 &&
              nb->u.t.storage->u.st.dtype == DX_TT_I64,
          "an int64 scalar in a LongStorage");
    dx_pickle_free(&p);
    dx_pkw_free(&w);
}

static void test_refusals(void)
{
    static const char OS[] = "\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00ls"
                             "\x85R.";
    static const char EVAL[] = "\x80\x04\x8c\x08" "builtins" "\x8c\x04" "eval"
                               "\x93X\x01\x00\x00\x00" "1\x85R.";
    static const char POPEN[] = "csubprocess\nPopen\n)R.";
    static const char POSIX[] = "cposix\nsystem\n.";
    static const char NUMPY[] = "cnumpy.core.multiarray\n_reconstruct\n.";
    static const char TLOAD[] = "ctorch\nload\n.";
    static const char OTHER[] = "ctorch._utils\n_rebuild_device_tensor_from_"
                                "numpy\n.";
    refused("os.system", OS, sizeof OS - 1, DX_PK_TORCH, "'os.system'");
    refused("builtins.eval by STACK_GLOBAL", EVAL, sizeof EVAL - 1,
            DX_PK_TORCH, "'builtins.eval'");
    refused("subprocess.Popen", POPEN, sizeof POPEN - 1, DX_PK_TORCH,
            "'subprocess.Popen'");
    refused("posix.system", POSIX, sizeof POSIX - 1, 0, "'posix.system'");
    refused("numpy", NUMPY, sizeof NUMPY - 1, 0,
            "'numpy.core.multiarray._reconstruct'");
    refused("torch.load", TLOAD, sizeof TLOAD - 1, 0, "'torch.load'");
    refused("another torch._utils function", OTHER, sizeof OTHER - 1, 0,
            "_rebuild_device_tensor_from_numpy");
    static const struct {
        const char *b;
        size_t n;
        const char *name;
    } OPS[] = {
        {"(cos\nsystem\nS'ls'\ni.", 22, "GLOBAL"},
        {"(ccollections\nOrderedDict\no.", 28, "OBJ"},
        {"(i__main__\nX\n.", 15, "INST"},
        {"ccollections\nOrderedDict\n)\x81.", 29, "NEWOBJ"},
        {"\x82\x01.", 3, "EXT1"},
        {"Pid\n.", 5, "PERSID"},
        {"\x8f.", 2, "EMPTY_SET"},
        {"S'x'\n.", 6, "STRING"},
        {"Vx\n.", 4, "UNICODE"},
        {"\x97.", 2, "NEXT_BUFFER"},
        {"\xff.", 2, "0xff"},
    };
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        refused(OPS[i].name, OPS[i].b, OPS[i].n, DX_PK_TORCH, OPS[i].name);
    refused("calling OrderedDict with arguments",
            "ccollections\nOrderedDict\n]\x85R.", 29, 0,
            "OrderedDict called with 1 argument,");
    refused("calling a storage type", "ctorch\nFloatStorage\n)R.", 23, 0,
            "only a type tag");
    refused("BUILD on a list", "])b.", 4, 0, "state of a list");
    refused("a memo slot never set", "h\x05.", 3, 0, "never set");
    refused("a huge memo index", "Nr\xff\xff\xff\x7f.", 7, 0,
            "above the limit");
    refused("a 9-byte LONG1", "\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.",
            12, 0, "does not fit 64 bits");
    refused("two values at STOP", "NN.", 3, 0, "2 values");
    refused("an open mark at STOP", "(N.", 3, 0, "marks left");
    refused("POP of nothing", "0.", 2, 0, "stack is empty");
    refused("APPENDS without a list", "(Ne.", 4, 0, "no list below");
    refused("SETITEM on a list", "]NNs.", 5, 0, "sets an item of a list");
    refused("odd DICT", "(Nd.", 4, 0, "odd number");
    refused("a string longer than the pickle",
            "X\xff\x00\x00\x00" "abc.", 9, 0, "truncated");
    refused("no STOP", "N", 1, 0, "without STOP");
    refused("protocol 6", "\x80\x06N.", 4, 0, "protocol 6");
    refused("a rebuild of the wrong arity",
            "ctorch._utils\n_rebuild_tensor_v2\n)R.", 35, DX_PK_TORCH,
            "takes 6 or 7 arguments");
}

static void test_long(void)
{
    static const char NEG[] = "\x8a\x02\x00\x80.";   /* -32768 */
    static const char MAX8[] = "\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.";
    static const char Z[] = "\x8a\x00.";
    dx_pickle p;
    dx_err e;
    CHECK(load(&p, NEG, sizeof NEG - 1, 0, &e) == 0 &&
              p.root->u.i == -32768,
          "LONG1 sign-extends");
    dx_pickle_free(&p);
    CHECK(load(&p, MAX8, sizeof MAX8 - 1, 0, &e) == 0 &&
              p.root->u.i == INT64_MAX,
          "LONG1 of 8 bytes: INT64_MAX");
    dx_pickle_free(&p);
    CHECK(load(&p, Z, sizeof Z - 1, 0, &e) == 0 && p.root->u.i == 0,
          "LONG1 of 0 bytes is 0");
    dx_pickle_free(&p);
}

static void test_memo_cycle(void)
{
    /* a list appended to itself: the reader builds it; walkers bound their
     * depth (tested with the torch reader) */
    static const char CYC[] = "]q\x00h\x00" "a.";
    dx_pickle p;
    dx_err e;
    CHECK(load(&p, CYC, sizeof CYC - 1, 0, &e) == 0 &&
              p.root->u.seq.n == 1 && p.root->u.seq.item[0] == p.root,
          "a self-containing list through the memo");
    dx_pickle_free(&p);
}

int main(void)
{
    test_protocol4();
    test_protocol0();
    test_torch();
    test_writer();
    test_refusals();
    test_long();
    test_memo_cycle();
    return check_done();
}
