/*
 * A small program for the freestanding runner's tests: prints its arguments and one
 * environment variable, copies stdin to stdout, copies /in/data.txt to /out/copy.txt, writes a
 * line to stderr and exits with the code given as `--exit N` (default 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int code = 0;
    for (int i = 0; i < argc; i++) {
        printf("arg[%d]=%s\n", i, argv[i]);
        if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) code = atoi(argv[i + 1]);
    }
    const char *who = getenv("WHO");
    printf("WHO=%s\n", who ? who : "(unset)");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
    FILE *in = fopen("/in/data.txt", "rb");
    if (in) {
        FILE *out = fopen("/out/copy.txt", "wb");
        if (!out) {
            perror("/out/copy.txt");
            return 10;
        }
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
        fclose(out);
        fclose(in);
    }
    fprintf(stderr, "echo done\n");
    return code;
}
