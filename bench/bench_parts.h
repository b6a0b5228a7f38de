/* Benchmarks that run on their own (bench/pipeline, bench/json) and inside bench/engine's one JSON object. Each
 * prints its JSON object to stdout without a trailing newline and returns 0, or 1 when its own check failed
 * (losses that differ, texts that do not parse to the same values). */
#ifndef FWT_BENCH_PARTS_H
#define FWT_BENCH_PARTS_H

#include <stddef.h>

/* The deepest pipeline bench_pipeline_run takes. */
#define BENCH_PIPELINE_MAX_DEPTH 16

/* Blocking against pipelined sft_resume-shaped steps on a fwtrain-local of its own (pipeline_run.c). */
int bench_pipeline_run(long steps_per_round, int rounds, int depth);
/* A batch's forward_backward text through the direct writer against cJSON, and the decode (json_run.c). */
int bench_json_run(size_t tokens, int rounds, size_t datum_len);

#endif /* FWT_BENCH_PARTS_H */
