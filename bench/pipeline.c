/* bench/pipeline: blocking against pipelined steps on fwtrain-local (pipeline_run.c says what it measures).
 * Usage: pipeline [steps_per_round (40)] [rounds (5)] [depth (4)] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_parts.h"

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 40;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    int depth = argc > 3 ? atoi(argv[3]) : 4;
    if (steps < 1 || steps > 100000 || rounds < 1 || rounds > 64 || depth < 1 || depth > BENCH_PIPELINE_MAX_DEPTH) {
        fprintf(stderr, "usage: pipeline [steps_per_round 1..100000] [rounds 1..64] [depth 1..%d]\n",
                BENCH_PIPELINE_MAX_DEPTH);
        return 2;
    }
    int rc = bench_pipeline_run(steps, rounds, depth);
    putchar('\n');
    return rc;
}
