/*
 * retrieve_future results (src/api/training_types.c): the typed payloads of forward /
 * forward_backward (loss outputs, logprobs tensors, metrics), optim_step metrics and string
 * lists, plus the error text the client keeps from any error body (src/core/request.c).
 * The polling envelope (try_again / error / result) runs inside the op state machine and is
 * fuzzed through the wire (fuzz_wire.c).
 */
#include "fuzz.h"

#include "api/training_impl.h"
#include "json/json.h"

static void forward(const cJSON *j)
{
    fwt_forward_output *o = NULL;
    fwt__err err;
    fwt__err_init(&err);
    if (fwt__parse_forward_output(j, &o, &err) == FWT_OK) {
        FUZZ_CHECK(o != NULL);
        fuzz_touch(fwt_forward_output_type(o));
        size_t n = fwt_forward_output_count(o);
        for (size_t i = 0; i <= n; i++) {
            size_t k = 0;
            const float *lp = fwt_forward_output_logprobs(o, i, &k);
            volatile float sum = 0;
            for (size_t x = 0; lp && x < k; x++)
                sum += lp[x];
            (void)sum;
        }
        const fwt_metrics *m = fwt_forward_output_metrics(o);
        for (size_t i = 0; m && i < fwt_metrics_count(m); i++)
            fuzz_touch(fwt_metrics_name(m, i));
        fwt_forward_output_free(o);
    }
    fwt__err_clear(&err);
}

static void metrics(const cJSON *j)
{
    fwt_metrics *m = NULL;
    fwt__err err;
    fwt__err_init(&err);
    if (fwt__parse_metrics(j, &m, &err) == FWT_OK && m) {
        size_t n = fwt_metrics_count(m);
        for (size_t i = 0; i < n; i++) {
            const char *name = fwt_metrics_name(m, i);
            FUZZ_CHECK(name != NULL);
            double v = 0;
            FUZZ_CHECK(fwt_metrics_get(m, name, &v) == FWT_OK);
        }
        fwt_metrics_free(m);
    }
    fwt__err_clear(&err);
}

static void strings(const cJSON *j)
{
    fwt_string_list *l = NULL;
    if (fwt__string_list_from_json(&l, j) == FWT_OK && l) {
        for (size_t i = 0; i < fwt_string_list_count(l); i++)
            FUZZ_CHECK(fwt_string_list_get(l, i) != NULL);
        fwt_string_list_free(l);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = fwt__json_parse((const char *)data, size);
    char *text = fwt__error_text((const char *)data, size, j);
    FUZZ_CHECK(text != NULL);
    fuzz_touch(text);
    fwt__free_mem(text);
    if (!j)
        return 0;
    forward(j);
    metrics(j);
    const cJSON *sub = NULL;
    if (fwt__json_get_object(j, "metrics", &sub) == FWT_OK)
        metrics(sub);
    const cJSON *arr = NULL;
    if (fwt__json_get_array(j, "checkpoints", &arr) == FWT_OK)
        strings(arr);
    cJSON_Delete(j);
    return 0;
}
