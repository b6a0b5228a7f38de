/* bench/json: the batch encoder and the response decoder against cJSON (json_run.c says what it measures).
 * Usage: json [tokens (1000000)] [rounds (7)] [datum_len (1000)] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_parts.h"

int main(int argc, char **argv)
{
    size_t tokens = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    size_t len = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 1000;
    if (!tokens || rounds < 1 || rounds > 64 || !len) {
        fprintf(stderr, "usage: json [tokens] [rounds 1..64] [datum_len]\n");
        return 2;
    }
    int rc = bench_json_run(tokens, rounds, len);
    putchar('\n');
    return rc;
}
