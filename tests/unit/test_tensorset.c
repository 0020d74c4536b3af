/* test_tensorset.c - the neutral form of foreign weights files: element
 * type conversions, format sniffing, the writers read back by the
 * readers (torch zip, safetensors, npz), and the containers' refusals on
 * crafted files (safetensors headers, npz members, torch zips and legacy
 * files: nesting, bare storages, byte order, storage key lists). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/npy.h"
#include "io/pickle.h"
#include "io/tensorset.h"
#include "io/zipfile.h"

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void test_types(void)
{
    const uint16_t h[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00,
                          0xfc00, 0x0000, 0x8000};
    const float hf[] = {1, -2, 65504, 5.9604645e-08f, 6.0975552e-05f,
                        INFINITY, -INFINITY, 0, -0.0f};
    float f[9];
    dx_ttype_to_f32(f, h, DX_TT_F16, 9);
    int ok = 1;
    for (int i = 0; i < 9; i++)
        ok &= f[i] == hf[i] && signbit(f[i]) == signbit(hf[i]);
    CHECK(ok, "f16: normals, subnormals, max, infinities, signed zero");
    const uint16_t hn = 0x7e00;
    dx_ttype_to_f32(f, &hn, DX_TT_F16, 1);
    CHECK(isnan(f[0]), "f16 NaN");
    const uint16_t b[] = {0x3f80, 0xc0a0, 0x7f80};
    dx_ttype_to_f32(f, b, DX_TT_BF16, 3);
    CHECK(f[0] == 1 && f[1] == -5 && isinf(f[2]), "bf16: 1, -5, inf");
    const double d[] = {1.0 / 3, 1e300};
    dx_ttype_to_f32(f, d, DX_TT_F64, 2);
    CHECK(f[0] == (float)(1.0 / 3) && isinf(f[1]),
          "f64 rounds to nearest; too large is inf");
    /* unaligned source bytes */
    unsigned char raw[9] = {0, 0, 0, 0x80, 0x3f};
    dx_ttype_to_f32(f, raw + 1, DX_TT_F32, 1);
    CHECK(f[0] == 1, "an unaligned f32");
    int64_t i[4];
    const int8_t i8[] = {-1, 127};
    const uint8_t u8[] = {255}, bo[] = {2};
    const int16_t i16[] = {-300};
    const int32_t i32[] = {-70000};
    dx_ttype_to_i64(i, i8, DX_TT_I8, 2);
    dx_ttype_to_i64(i + 2, u8, DX_TT_U8, 1);
    dx_ttype_to_i64(i + 3, bo, DX_TT_BOOL, 1);
    CHECK(i[0] == -1 && i[1] == 127 && i[2] == 255 && i[3] == 1,
          "i8 sign-extends, u8 does not, bool is 0/1");
    dx_ttype_to_i64(i, i16, DX_TT_I16, 1);
    dx_ttype_to_i64(i + 1, i32, DX_TT_I32, 1);
    CHECK(i[0] == -300 && i[1] == -70000, "i16, i32 sign-extend");
    CHECK(dx_ttype_from_npy("<f4") == DX_TT_F32 &&
              dx_ttype_from_npy("|u1") == DX_TT_U8 &&
              dx_ttype_from_npy("<u1") == DX_TT_U8 &&
              dx_ttype_from_npy("|b1") == DX_TT_BOOL &&
              dx_ttype_from_npy(">f4") == 0 &&
              dx_ttype_from_npy("<c8") == 0,
          "NumPy descr: byte-order marks of one-byte types; big-endian and "
          "complex refused");
    CHECK(dx_ttype_from_torch("BFloat16Storage") == DX_TT_BF16 &&
              dx_ttype_from_torch("UntypedStorage") == 0 &&
              dx_ttype_from_safetensors("I64") == DX_TT_I64 &&
              dx_ttype_from_safetensors("F8_E4M3") == 0,
          "torch storage and safetensors dtype names");
}

/* A set of one f32 tensor, one int64 scalar and one int, in two groups. */
static void sample(dx_tset *ts, const char *group)
{
    dx_err e;
    int64_t dims[3] = {2, 1, 3};
    char name[64];
    dx_tset_init(ts);
    snprintf(name, sizeof name, "%s%sconv.weight", group, *group ? "." : "");
    dx_tentry *t = dx_tset_add(ts, group, name, DX_TE_TENSOR, &e);
    dx_tentry_shape(t, DX_TT_F32, 3, dims, 1 << 20, &e);
    dx_tentry_alloc(t, &e);
    for (int i = 0; i < 6; i++)
        t->f[i] = (float)i / 3 - 1;
    snprintf(name, sizeof name, "%s%sbn.num_batches_tracked", group,
             *group ? "." : "");
    t = dx_tset_add(ts, group, name, DX_TE_TENSOR, &e);
    dx_tentry_shape(t, DX_TT_I64, 0, dims, 8, &e);
    dx_tentry_alloc(t, &e);
    t->i[0] = -((int64_t)1 << 40);
    if (*group) {
        t = dx_tset_add(ts, "", "iteration", DX_TE_INT, &e);
        t->i = malloc(sizeof *t->i);
        t->i[0] = 99;
    }
}

static void test_round_trip(void)
{
    static const struct {
        const char *file;
        int format;
    } F[] = {{"a.pth", DX_TF_TORCH},
             {"a.safetensors", DX_TF_SAFETENSORS},
             {"a.npz", DX_TF_NPZ}};
    for (int g = 0; g < 2; g++)
        for (int k = 0; k < 3; k++) {
            dx_tset ts, back;
            dx_err e;
            sample(&ts, g ? "model" : "");
            CHECK(dx_tformat_of_path(F[k].file) == F[k].format,
                  "%s: format from the extension", F[k].file);
            int rc = dx_tset_write(&ts, tmp(F[k].file), F[k].format, &e);
            CHECK(rc == 0, "%s written: %s", F[k].file, rc ? e.msg : "");
            rc = dx_tset_read(&back, tmp(F[k].file), 0, &e);
            CHECK(rc == 0 && back.format == F[k].format, "%s read back: %s",
                  F[k].file, rc ? e.msg : dx_tformat_name(back.format));
            if (rc)
                continue;
            int w = dx_tset_find(&back, ts.v[0].name),
                n = dx_tset_find(&back, ts.v[1].name),
                it = dx_tset_find(&back, "iteration");
            CHECK(w >= 0 && back.v[w].rank == 3 && back.v[w].dims[2] == 3 &&
                      !memcmp(back.v[w].f, ts.v[0].f, 6 * sizeof(float)),
                  "%s (group '%s'): the f32 tensor's shape and bytes",
                  F[k].file, g ? "model" : "");
            CHECK(n >= 0 && back.v[n].dtype == DX_TT_I64 &&
                      back.v[n].rank == 0 &&
                      back.v[n].i[0] == -((int64_t)1 << 40),
                  "%s: the int64 scalar", F[k].file);
            CHECK(!g || (it >= 0 && back.v[it].i && back.v[it].i[0] == 99),
                  "%s: the int beside the group", F[k].file);
            if (F[k].format == DX_TF_TORCH)
                CHECK(!strcmp(back.v[w].group, g ? "model" : ""),
                      "torch: the nesting comes back as the group");
            dx_tset_free(&back);
            /* listing reads shapes, converts nothing */
            rc = dx_tset_read(&back, tmp(F[k].file), DX_TS_LIST, &e);
            w = rc ? -1 : dx_tset_find(&back, ts.v[0].name);
            CHECK(w >= 0 && !back.v[w].f && back.v[w].count == 6,
                  "%s: a listing has shapes and no data", F[k].file);
            if (!rc)
                dx_tset_free(&back);
            dx_tset_free(&ts);
        }
}

/* Read buf as a file's bytes; must fail naming want. */
static void refused(const char *what, const void *buf, size_t len,
                    const char *want)
{
    dx_tset ts;
    dx_err e = {""};
    int rc = dx_tset_read_mem(&ts, buf, len, "f", 0, &e);
    CHECK(rc == -1 && strstr(e.msg, want), "%s refused (%s): %s", what, want,
          e.msg);
    if (!rc)
        dx_tset_free(&ts);
}

/* A safetensors file of header text h and dlen data bytes. */
static size_t st(unsigned char *out, const char *h, size_t dlen)
{
    size_t n = strlen(h);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(out + 8, h, n);
    memset(out + 8 + n, 0, dlen);
    return 8 + n + dlen;
}

static void test_safetensors(void)
{
    unsigned char b[1024];
    dx_tset ts;
    dx_err e;
    size_t n = st(b, "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],"
                     "\"data_offsets\":[0,4]},\"__metadata__\":{\"k\":\"v\"}}",
                  4);
    b[n - 4 + 1] = 0x3c; /* a[0] = 1.0 */
    int rc = dx_tset_read_mem(&ts, b, n, "f", 0, &e);
    CHECK(rc == 0 && ts.n == 2 && ts.v[0].f && ts.v[0].f[0] == 1 &&
              ts.v[1].kind == DX_TE_STR && !strcmp(ts.v[1].s, "v"),
          "safetensors: an F16 tensor and the metadata: %s", rc ? e.msg : "");
    if (!rc)
        dx_tset_free(&ts);
    static const struct {
        const char *what, *h;
        size_t dlen;
        const char *want;
    } BAD[] = {
        {"a gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
                  "[4,8]}}", 8, "a gap or an overlap"},
        {"an overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\","
                       "\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
         "a gap or an overlap"},
        {"trailing data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                          "\"data_offsets\":[0,4]}}", 8,
         "4 data bytes after"},
        {"truncated data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
                           "\"data_offsets\":[0,16]}}", 8,
         "not within the 8 data bytes"},
        {"size and shape disagree", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],"
                                    "\"data_offsets\":[0,8]}}", 16,
         "takes 12 bytes"},
        {"an unknown dtype", "{\"a\":{\"dtype\":\"C64\",\"shape\":[1],"
                             "\"data_offsets\":[0,8]}}", 8, "'C64'"},
        {"a negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],"
                           "\"data_offsets\":[0,0]}}", 0, "shape item 0"},
        {"rank 9", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                   "\"data_offsets\":[0,1]}}", 1, "rank 9"},
        {"a repeated key", "{\"a\":{\"dtype\":\"U8\",\"shape\":[],"
                           "\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\","
                           "\"shape\":[],\"data_offsets\":[1,2]}}", 2,
         "duplicate"},
        {"metadata that is not text", "{\"__metadata__\":{\"k\":1}}", 0,
         "not a string"},
        {"not JSON", "{\"a\":", 0, "safetensors header"},
        {"a dims product past the file", "{\"a\":{\"dtype\":\"F32\",\"shape\":"
                                         "[4611686018427387904,4],"
                                         "\"data_offsets\":[0,0]}}", 0,
         "larger than"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        n = st(b, BAD[i].h, BAD[i].dlen);
        refused(BAD[i].what, b, n, BAD[i].want);
    }
    n = st(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"
              "}}", 4);
    b[0] = 200; /* a header length past the end */
    refused("a header length past the file", b, n, "not a PyTorch");
}

/* A zip at name of the given members (name, bytes, length). */
static void make_zip(const char *file, const char *const *names,
                     const char *const *data, const size_t *len, int n)
{
    dx_zipw z;
    dx_err e;
    if (dx_zipw_open(&z, &e))
        return;
    for (int i = 0; i < n; i++)
        dx_zipw_add(&z, names[i], data[i], len[i], &e);
    dx_zipw_commit(&z, file, &e);
}

static void refused_file(const char *what, const char *file, const char *want)
{
    dx_tset ts;
    dx_err e = {""};
    int rc = dx_tset_read(&ts, file, 0, &e);
    CHECK(rc == -1 && strstr(e.msg, want), "%s refused (%s): %s", what, want,
          e.msg);
    if (!rc)
        dx_tset_free(&ts);
}

/* A .npy member of descr and shape (n,) with dlen data bytes; fortran
 * True when asked. */
static size_t npy(char *out, const char *descr, int64_t n, size_t dlen,
                  int fortran)
{
    size_t hl = dx_npy_header_text((unsigned char *)out, descr, 1, &n);
    char *f = memmem(out, hl, "False", 5);
    if (fortran && f)
        memcpy(f, "True ", 5);
    memset(out + hl, 0, dlen);
    return hl + dlen;
}

static void test_npz(void)
{
    char buf[DX_NPY_HEADER + 128];
    const char *names[] = {"f.npy"}, *data[] = {buf};
    size_t len[1];
    len[0] = npy(buf, "<f4", 4, 16, 1);
    make_zip(tmp("f.npz"), names, data, len, 1);
    refused_file("a Fortran-order member", tmp("f.npz"), "not in C order");
    len[0] = npy(buf, ">f4", 1, 4, 0);
    make_zip(tmp("be.npz"), names, data, len, 1);
    refused_file("a big-endian member", tmp("be.npz"), "dtype '>f4'");
    const char *n2[] = {"a.txt"};
    make_zip(tmp("txt.npz"), n2, data, len, 1);
    refused_file("a member that is not .npy", tmp("txt.npz"),
                 "not a .npy file");
    len[0] = npy(buf, "<f4", 1, 2, 0);
    make_zip(tmp("short.npz"), names, data, len, 1);
    refused_file("a member shorter than its shape", tmp("short.npz"),
                 "data holds 2 bytes, shape and dtype need 4");
    len[0] = npy(buf, "<f2", 3, 6, 0);
    make_zip(tmp("ok.npz"), names, data, len, 1);
    dx_tset ts;
    dx_err e;
    int rc = dx_tset_read(&ts, tmp("ok.npz"), 0, &e);
    CHECK(rc == 0 && ts.n == 1 && !strcmp(ts.v[0].name, "f") &&
              ts.v[0].dtype == DX_TT_F16 && ts.v[0].count == 3,
          "an f16 member 'f.npy' is the tensor 'f': %s", rc ? e.msg : "");
    if (!rc)
        dx_tset_free(&ts);
}

/* The pickle of OrderedDict(x=tensor of 2 floats in storage '0'). */
static void one_tensor(dx_pkw *w)
{
    dx_err e;
    int64_t d[1] = {2};
    dx_pkw_init(w);
    dx_pkw_ordered_dict(w);
    dx_pkw_mark(w);
    dx_pkw_str(w, "x");
    dx_pkw_tensor(w, DX_TT_F32, "0", 1, d);
    dx_pkw_setitems(w);
    dx_pkw_finish(w, &e);
}

static void test_torch_zip(void)
{
    dx_pkw w;
    dx_err e;
    one_tensor(&w);
    const char *pkl = (const char *)w.buf, *f8 = "\0\0\x80?\0\0\0@";
    {
        const char *names[] = {"a/data.pkl", "a/data/0", "a/version"};
        const char *data[] = {pkl, f8, "3\n"};
        size_t len[] = {w.len, 8, 2};
        make_zip(tmp("ok.pth"), names, data, len, 3);
        dx_tset ts;
        int rc = dx_tset_read(&ts, tmp("ok.pth"), 0, &e);
        CHECK(rc == 0 && ts.n == 1 && ts.v[0].f[0] == 1 &&
                  ts.v[0].f[1] == 2,
              "a hand-made torch zip: folder 'a', version 3: %s",
              rc ? e.msg : "");
        if (!rc)
            dx_tset_free(&ts);
        len[2] = 3;
        data[2] = "99\n";
        make_zip(tmp("v99.pth"), names, data, len, 3);
        refused_file("format version 99", tmp("v99.pth"),
                     "format version '99");
        make_zip(tmp("nov.pth"), names, data, len, 2);
        refused_file("no version record", tmp("nov.pth"), "no a/version");
        len[1] = 4;
        len[2] = 2;
        data[2] = "3\n";
        make_zip(tmp("short.pth"), names, data, len, 3);
        refused_file("a storage shorter than its id", tmp("short.pth"),
                     "holds 4 bytes");
    }
    {
        const char *names[] = {"a/data.pkl", "a/data/0", "a/version",
                               "a/byteorder"};
        const char *data[] = {pkl, f8, "3", "big"};
        size_t len[] = {w.len, 8, 1, 3};
        make_zip(tmp("big.pth"), names, data, len, 4);
        refused_file("a big-endian zip", tmp("big.pth"), "byte order 'big'");
        names[3] = "a/constants.pkl";
        make_zip(tmp("jit.pth"), names, data, len, 4);
        refused_file("a TorchScript archive", tmp("jit.pth"), "TorchScript");
        names[0] = "data.pkl";
        make_zip(tmp("flat.pth"), names, data, len, 1);
        refused_file("a zip without a folder", tmp("flat.pth"),
                     "neither a NumPy .npz nor a torch.save file");
    }
    dx_pkw_free(&w);
}

/* A legacy file: the magic, 1001, sys_info (little_endian le), the main
 * pickle obj, the key list keys, then tail bytes. */
static size_t legacy(unsigned char *out, int le, const char *obj, size_t on,
                     const char *keys, size_t kn, const char *tail,
                     size_t tn)
{
    static const char MAGIC[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20"
                                "\x6a\xa8\x50\x19.";
    static const char VER[] = "\x80\x02M\xe9\x03.";
    char info[] = "\x80\x02}X\x0d\x00\x00\x00little_endian\x88s.";
    if (!le)
        info[sizeof info - 4] = '\x89';
    size_t at = 0;
#define PUT(p, n) (memcpy(out + at, p, n), at += (n))
    PUT(MAGIC, sizeof MAGIC - 1);
    PUT(VER, sizeof VER - 1);
    PUT(info, sizeof info - 1);
    PUT(obj, on);
    PUT(keys, kn);
    PUT(tail, tn);
#undef PUT
    return at;
}

static void test_legacy(void)
{
    unsigned char b[1024];
    static const char KEYS[] = "\x80\x02]X\x01\x00\x00\x00" "0a.";
    static const char TAIL[] = "\x02\0\0\0\0\0\0\0\0\0\x80?\0\0\0@";
    dx_pkw w;
    dx_err e;
    one_tensor(&w);
    size_t n = legacy(b, 1, (const char *)w.buf, w.len, KEYS, sizeof KEYS - 1,
                      TAIL, sizeof TAIL - 1);
    dx_tset ts;
    int rc = dx_tset_read_mem(&ts, b, n, "f", 0, &e);
    CHECK(rc == 0 && ts.format == DX_TF_TORCH_LEGACY && ts.n == 1 &&
              ts.v[0].f[1] == 2,
          "a hand-made legacy file: %s", rc ? e.msg : "");
    if (!rc)
        dx_tset_free(&ts);
    n = legacy(b, 0, (const char *)w.buf, w.len, KEYS, sizeof KEYS - 1, TAIL,
               sizeof TAIL - 1);
    refused("a big-endian legacy file", b, n, "little_endian=True");
    n = legacy(b, 1, (const char *)w.buf, w.len, KEYS, sizeof KEYS - 1, TAIL,
               sizeof TAIL - 2);
    refused("a truncated storage", b, n, "truncated");
    n = legacy(b, 1, (const char *)w.buf, w.len, KEYS, sizeof KEYS - 1,
               "\x03\0\0\0\0\0\0\0\0\0\x80?\0\0\0@\0\0\0\0", 20);
    refused("a storage count that disagrees", b, n, "holds 3 elements");
    n = legacy(b, 1, (const char *)w.buf, w.len, "\x80\x02].", 4, "", 0);
    refused("a storage missing from the key list", b, n,
            "not in the key list");
    n = legacy(b, 1, (const char *)w.buf, w.len, KEYS, sizeof KEYS - 1,
               "\x02\0\0\0\0\0\0\0\0\0\x80?\0\0\0@!", 17);
    refused("bytes after the last storage", b, n, "1 bytes after");
    static const char CYC[] = "\x80\x02}q\x00X\x01\x00\x00\x00" "ah\x00s.";
    n = legacy(b, 1, CYC, sizeof CYC - 1, "\x80\x02].", 4, "", 0);
    refused("a dict that contains itself", b, n, "nested deeper than");
    static const char BARE[] = "\x80\x02}X\x01\x00\x00\x00" "actorch\n"
                               "FloatStorage\ns.";
    n = legacy(b, 1, BARE, sizeof BARE - 1, "\x80\x02].", 4, "", 0);
    refused("a bare global", b, n, "bare global");
    static const char ONE[] = "\x80\x02K\x05.";
    n = legacy(b, 1, ONE, sizeof ONE - 1, "\x80\x02].", 4, "", 0);
    refused("a file of one int", b, n, "not a dict of tensors");
    static const char TUPKEY[] = "\x80\x02})K\x01s.";
    n = legacy(b, 1, TUPKEY, sizeof TUPKEY - 1, "\x80\x02].", 4, "", 0);
    refused("a tuple as a dict key", b, n, "is a tuple");
    dx_pkw_free(&w);
    refused("bytes that are no format", "hello world", 11, "unknown magic");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dacs-tset.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    test_types();
    test_round_trip();
    test_safetensors();
    test_npz();
    test_torch_zip();
    test_legacy();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_done();
}
