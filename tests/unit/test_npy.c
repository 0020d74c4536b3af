/* test_npy.c - .npy headers as NumPy writes them, round trips, and
 * malformed headers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/npy.h"

static int parse(const char *dict, int *dtype, int *rank, int64_t *dims)
{
    unsigned char buf[600];
    size_t n = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(n & 0xff);
    buf[9] = (unsigned char)(n >> 8);
    memcpy(buf + 10, dict, n);
    size_t pos;
    dx_err err;
    return dx_npy_parse(buf, 10 + n, dtype, rank, dims, &pos, &err);
}

int main(void)
{
    int dtype, rank;
    int64_t dims[8];
    CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
                "      \n", &dtype, &rank, dims) == 0 &&
              dtype == DX_F32 && rank == 2 && dims[0] == 2 && dims[1] == 3,
          "NumPy's f4 header parses");
    CHECK(parse("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }\n",
                &dtype, &rank, dims) == 0 &&
              dtype == DX_U8 && rank == 1 && dims[0] == 5,
          "a 1-d u1 header parses");
    CHECK(parse("{'descr': '<i4', 'fortran_order': False, 'shape': (), }\n",
                &dtype, &rank, dims) == 0 &&
              dtype == DX_I32 && rank == 0,
          "a scalar header parses");
    CHECK(parse("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n",
                &dtype, &rank, dims) == -1,
          "f8 is refused");
    CHECK(parse("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n",
                &dtype, &rank, dims) == -1,
          "big-endian is refused");
    CHECK(parse("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n",
                &dtype, &rank, dims) == -1,
          "Fortran order is refused");
    CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }"
                "\n", &dtype, &rank, dims) == -1,
          "a negative dim is refused");
    CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,"
                "1,1,1,1,1), }\n", &dtype, &rank, dims) == -1,
          "rank 9 is refused");
    CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }\n",
                &dtype, &rank, dims) == -1,
          "a malformed shape is refused");

    /* round trip through a file */
    dx_err err;
    tns_frame f, g;
    int64_t d[3] = {2, 3, 4};
    tns_frame_alloc(&f, "x", DX_U16, 3, d, &err);
    for (size_t i = 0; i < f.count; i++)
        ((uint16_t *)f.data)[i] = (uint16_t)(i * 999);
    char path[] = "/tmp/dacs-npy-XXXXXX";
    close(mkstemp(path));
    int rc = dx_npy_write(path, &f, &err);
    rc = rc ? rc : dx_npy_read(path, "y", &g, &err);
    CHECK(rc == 0 && g.dtype == DX_U16 && tns_same_shape(&f, &g) &&
              memcmp(f.data, g.data, f.nbytes) == 0 &&
              strcmp(g.name, "y") == 0,
          "u16 2x3x4 survives a .npy round trip");
    FILE *fp = fopen(path, "rb");
    unsigned char head[10];
    long start = 0;
    if (fread(head, 1, 10, fp) == 10)
        start = 10 + (head[8] | head[9] << 8);
    CHECK(start > 0 && start % 64 == 0, "data starts on a 64-byte boundary");
    fclose(fp);
    if (rc == 0)
        tns_frame_free(&g);
    /* truncate the data */
    CHECK(truncate(path, start + 10) == 0, "truncate");
    CHECK(dx_npy_read(path, "y", &g, &err) == -1 &&
              strstr(err.msg, "truncated .npy data (expected 48 bytes)"),
          "truncated data: %s", err.msg);
    unlink(path);
    tns_frame_free(&f);
    return check_done();
}
