/*
 * promote — turn a promotable checkpoint of a run into a model, with the library.
 *
 * Run it after sft_resume finished (its final checkpoint is BOTH, so promotable):
 *   export FIREWORKS_BASE_URL=http://127.0.0.1:8080 FIREWORKS_API_KEY=local-dev-key
 *   ./promote runs/demo/checkpoints.jsonl [output-model-id [step]]
 * The command-line tool does the same with more options:
 *   fwtrain promote --checkpoints-jsonl runs/demo/checkpoints.jsonl [--step N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fwtrain/fwtrain.h>

static int fail(const char *what)
{
    fprintf(stderr, "promote: %s: %s\n", what, fwt_error_last()->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: promote CHECKPOINTS_JSONL [OUTPUT_MODEL_ID [STEP]]\n");
        return 2;
    }
    long long step = -1;
    if (argc == 4) {
        char *end = NULL;
        errno = 0;
        step = strtoll(argv[3], &end, 10);
        if (errno || !end || *end || step < 0) {
            fprintf(stderr, "promote: STEP must be a non-negative integer, got '%s'\n", argv[3]);
            return 2;
        }
    }
    /*
     * 1. The registry: the latest promotable checkpoint (the last line with a sampler_path), or the
     *    last promotable entry of STEP (a STATE entry of the same step written after it does not hide it).
     */
    fwt_registry *reg = NULL;
    if (fwt_registry_read_file(&reg, argv[1]) != FWT_OK)
        return fail("cannot read the registry");
    const fwt_registry_entry *e =
        step >= 0 ? fwt_registry_find_promotable_step(reg, step) : fwt_registry_latest_promotable(reg);
    if (!e || !e->source_job_id) {
        fprintf(stderr, "promote: %s has no promotable entry%s with a source_job_id\n", argv[1],
                step >= 0 ? " of that step" : "");
        fwt_registry_free(reg);
        return 3;
    }
    char output_id[64];
    if (argc >= 3)
        snprintf(output_id, sizeof output_id, "%s", argv[2]);
    else
        snprintf(output_id, sizeof output_id, "example-%s-%ld", e->name, (long)(time(NULL) % 100000));
    if (fwt_promote_validate_output_model_id(output_id) != FWT_OK) {
        fwt_registry_free(reg);
        return fail("bad output model id");
    }

    /*
     * 2. Promote (source_job_id, sampler_path) in one blocking call: the trainer need not be running.
     *    base_model NULL (an entry written without one) makes the library read the job's
     *    trainingConfig.baseModel. The operation is polled fast at first, then at the service's pace (10 s).
     */
    fwt_client *client = NULL;
    if (fwt_client_new(&client, NULL) != FWT_OK) {
        fwt_registry_free(reg);
        return fail("cannot create the client");
    }
    printf("promoting %s (step %lld) of job %s: snapshot %s\n", e->name, (long long)e->step, e->source_job_id,
           e->sampler_path);
    fwt_model *model = NULL;
    int rc = fwt_promote_checkpoint_by_id_result(&model, client, e->source_job_id, e->sampler_path, output_id,
                                                 e->base_model, NULL, 0);
    if (rc != FWT_OK)
        fprintf(stderr, "promote: promotion failed: %s\n", fwt_error_last()->message);
    else
        printf("model: %s\nstate: %s\nkind: %s\n", fwt_model_name(model), fwt_model_state(model), fwt_model_kind(model));
    fwt_model_free(model);
    fwt_client_free(client);
    fwt_registry_free(reg);
    return rc == FWT_OK ? 0 : 1;
}
