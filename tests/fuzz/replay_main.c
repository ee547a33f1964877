/* replay_main.c: runs a libFuzzer target over files without libFuzzer, so
 * `make test` replays every checked-in corpus with gcc (and under ASan).
 * Arguments are files or folders (one level deep). Exit 0 when every input
 * ran; a crash aborts the process, which fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Reads one file and feeds it to the target; returns 0 on success. */
static int
s_run_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        perror (path);
        return -1;
    }
    if (fseek (f, 0, SEEK_END) != 0) {
        fclose (f);
        return -1;
    }
    long len = ftell (f);
    rewind (f);
    if (len < 0 || len > 64L * 1024 * 1024) {
        fprintf (stderr, "%s: unusable size\n", path);
        fclose (f);
        return -1;
    }
    uint8_t *buf = malloc (len ? (size_t)len : 1);
    if (!buf || fread (buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf (stderr, "%s: read failed\n", path);
        free (buf);
        fclose (f);
        return -1;
    }
    fclose (f);
    LLVMFuzzerTestOneInput (buf, (size_t)len);
    free (buf);
    return 0;
}

int
main (int argc, char **argv)
{
    int inputs = 0, failed = 0;
    /* The empty input first: every target must accept it. */
    LLVMFuzzerTestOneInput ((const uint8_t *)"", 0);
    inputs++;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st) != 0) {
            fprintf (stderr, "%s: no such corpus\n", argv[i]);
            failed++;
            continue;
        }
        if (!S_ISDIR (st.st_mode)) {
            failed += s_run_file (argv[i]) != 0;
            inputs++;
            continue;
        }
        DIR *d = opendir (argv[i]);
        struct dirent *e;
        while (d && (e = readdir (d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], e->d_name);
            failed += s_run_file (path) != 0;
            inputs++;
        }
        if (d)
            closedir (d);
    }
    printf ("replay %s: %d inputs, %d unreadable\n", argc > 1 ? argv[1] : "-", inputs,
            failed);
    return failed ? 1 : 0;
}
