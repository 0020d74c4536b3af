/* replay.c - run a fuzz target's entry point on files, without libFuzzer,
 * so that the seed corpus and every crash ever found stay regression tests
 * in `make check` (and under the sanitizers with SAN=1).  Prints TAP. */
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "rb");
        if (!fp) {
            printf("not ok %d - cannot open %s\n", i, argv[i]);
            return 1;
        }
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        rewind(fp);
        unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = fread(buf, 1, (size_t)n, fp);
        fclose(fp);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
    }
    /* reaching here means no input crashed the target */
    printf("ok 1 - %s replays %d inputs\n1..1\n", argv[0], argc - 1);
    return 0;
}
