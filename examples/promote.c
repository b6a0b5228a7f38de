/*
 * promote — turn the latest promotable checkpoint of a run into a model, with the library.
 *
 * Run it after sft_resume finished (its final checkpoint is BOTH, so promotable):
 *   export FIREWORKS_BASE_URL=http://127.0.0.1:8080 FIREWORKS_API_KEY=local-dev-key
 *   ./promote runs/demo/checkpoints.jsonl [output-model-id]
 * The command-line tool does the same with more options:
 *   fwtrain promote --checkpoints-jsonl runs/demo/checkpoints.jsonl
 */
#include <stdio.h>
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
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: promote CHECKPOINTS_JSONL [OUTPUT_MODEL_ID]\n");
        return 2;
    }
    /* 1. The registry: the last line with a sampler_path is the latest promotable checkpoint. */
    fwt_registry *reg = NULL;
    if (fwt_registry_read_file(&reg, argv[1]) != FWT_OK)
        return fail("cannot read the registry");
    const fwt_registry_entry *e = fwt_registry_latest_promotable(reg);
    if (!e || !e->source_job_id || !e->base_model) {
        fprintf(stderr, "promote: %s has no promotable entry with source_job_id and base_model\n", argv[1]);
        fwt_registry_free(reg);
        return 3;
    }
    char output_id[64];
    if (argc == 3)
        snprintf(output_id, sizeof output_id, "%s", argv[2]);
    else
        snprintf(output_id, sizeof output_id, "example-%s-%ld", e->name, (long)(time(NULL) % 100000));
    if (fwt_promote_validate_output_model_id(output_id) != FWT_OK) {
        fwt_registry_free(reg);
        return fail("bad output model id");
    }

    /* 2. Promote (source_job_id, sampler_path): the trainer need not be running. */
    fwt_client *client = NULL;
    if (fwt_client_new(&client, NULL) != FWT_OK) {
        fwt_registry_free(reg);
        return fail("cannot create the client");
    }
    printf("promoting %s (step %lld) of job %s: snapshot %s\n", e->name, (long long)e->step, e->source_job_id,
           e->sampler_path);
    /* Promotion is an operation the library polls: fast at first, then at the service's pace (10 s). */
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    fwt_future *f = NULL;
    fwt_model *model = NULL;
    int rc = fwt_promote_checkpoint_by_id(&f, client, e->source_job_id, e->sampler_path, output_id, e->base_model, &po);
    if (rc == FWT_OK && fwt_future_wait(f, -1) == FWT_OK && fwt_future_status(f) == FWT_OK)
        rc = fwt_future_take_model(&model, f);
    else if (rc == FWT_OK)
        rc = fwt_future_status(f);
    if (rc != FWT_OK) {
        const fwt_error *err = f ? fwt_future_error(f) : NULL;
        fprintf(stderr, "promote: promotion failed: %s\n",
                err ? err->message : fwt_error_last()->message);
    } else {
        printf("model: %s\nstate: %s\nkind: %s\n", fwt_model_name(model), fwt_model_state(model), fwt_model_kind(model));
    }
    fwt_model_free(model);
    fwt_future_free(f);
    fwt_client_free(client);
    fwt_registry_free(reg);
    return rc == FWT_OK ? 0 : 1;
}
