/* fuzz_list.c - the dataset list-file parser on arbitrary bytes.  The
 * bytes become a list file (in memory, named through /proc); the paths it
 * names do not exist, so every accepted line ends in a clear error. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int fd = memfd_create("fuzz-list", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    for (int labels = 0; labels < 2; labels++) {
        dx_dataset_spec spec = {DX_DS_LIST, "/nonexistent-root", NULL, path,
                                labels, 0, NULL, 0};
        dx_dataset d;
        dx_err err;
        if (dx_dataset_open(&d, &spec, &err) == 0)
            dx_dataset_free(&d);
    }
    close(fd);
    return 0;
}
