/* Allocates and touches memory until something stops it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Written through a volatile so the allocations cannot be optimised away. */
static char *volatile last;

int main(void) {
    size_t total = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) {
            /* Only reached if the runtime let allocation fail instead of stopping the program. */
            printf("malloc failed after %zu MiB\n", total >> 20);
            return 0;
        }
        memset(p, 1, 1 << 20);
        *(char **)p = last;
        last = p;
        total += 1 << 20;
    }
}
