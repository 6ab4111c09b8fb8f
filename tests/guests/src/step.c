/*
 * One step of the pipeline tests. Built three times with STEP set to a, b or f:
 * appends STEP to /out/log; step a also creates /out/a.done; step f then exits 3.
 */
#include <stdio.h>

#ifndef STEP
#error "STEP must be defined"
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

int main(void) {
    FILE *log = fopen("/out/log", "a");
    if (!log) {
        perror("/out/log");
        return 10;
    }
    fputs(STR(STEP), log);
    fclose(log);
    const char *step = STR(STEP);
    if (step[0] == 'a') {
        FILE *done = fopen("/out/a.done", "w");
        if (!done) return 11;
        fclose(done);
    }
    if (step[0] == 'f') return 3;
    return 0;
}
