/* The batch encoder the library used before src/json/jwrite.c: a cJSON tree printed by cJSON. The JSON
 * tests compare the library's text against it, and bench/json.c measures against it. */
#ifndef FWT_TEST_BATCH_CJSON_H
#define FWT_TEST_BATCH_CJSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* One datum's inputs: n tokens and n of each other array; NULL float arrays are left out. */
typedef struct fwt_test_datum {
    const int64_t *tokens, *targets;
    const float *weights, *logprobs, *advantages;
    size_t n;
} fwt_test_datum;

/* The "data" array of a forward_backward request (docs/protocol.md §4.10); NULL on OOM. */
cJSON *fwt_test_batch_cjson(const fwt_test_datum *d, size_t count, int rl);

/* 1 when two trees are the same: types, keys and their order, strings, and numbers bit for bit. */
int fwt_test_cjson_same(const cJSON *a, const cJSON *b);

#endif
