/* Checkpoint kind names and init_from_checkpoint specs (docs/protocol.md §6, §7.1). */
#include <string.h>
#include <strings.h>

#include "fwt_util.h"
#include "fwtrain/cookbook/registry.h"
#include "fwtrain/training.h"

const char *fwt_checkpoint_kind_name(fwt_checkpoint_kind kind)
{
    switch (kind) {
    case FWT_CHECKPOINT_KIND_STATE: return "STATE";
    case FWT_CHECKPOINT_KIND_SAMPLER: return "SAMPLER";
    case FWT_CHECKPOINT_KIND_BOTH: return "BOTH";
    }
    return NULL;
}

int fwt_checkpoint_kind_parse(fwt_checkpoint_kind *out, const char *name)
{
    static const fwt_checkpoint_kind kinds[] = {FWT_CHECKPOINT_KIND_STATE, FWT_CHECKPOINT_KIND_SAMPLER,
                                                FWT_CHECKPOINT_KIND_BOTH};
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpoint_kind_parse: out is NULL");
    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcasecmp(name, fwt_checkpoint_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            fwt__last_ok();
            return FWT_OK;
        }
    }
    return fwt__last_set(FWT_EINVAL, "unknown checkpoint kind \"%s\" (expected STATE, SAMPLER or BOTH)",
                         name ? name : "(null)");
}

int fwt_checkpoint_spec_resolve(char **out, const char *spec)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpoint_spec_resolve: out is NULL");
    *out = NULL;
    if (!spec || !spec[0])
        return fwt__last_set(FWT_EINVAL, "init_from_checkpoint is empty");
    /* Full references pass through untouched (docs/protocol.md §4.5, §4.7). */
    if (strncmp(spec, "gs://", 5) == 0 || spec[0] == '/' || strncmp(spec, "cross_job://", 12) == 0) {
        *out = fwt__strdup(spec);
        if (!*out)
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        fwt__last_ok();
        return FWT_OK;
    }
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || !colon[1])
        return fwt__last_set(FWT_EINVAL,
                             "init_from_checkpoint \"%s\" must be \"<job_id>:<checkpoint_name>\" (e.g. \"my-job:step-4\")",
                             spec);
    char *job = fwt__strndup(spec, (size_t)(colon - spec));
    if (!job)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    int rc = fwt_resolve_checkpoint_path(out, colon + 1, job);
    fwt__free_mem(job);
    return rc;
}

int fwt_checkpoint_spec_resolve_for_job(char **out, const char *spec, const char *job_id)
{
    if (out && job_id && spec && spec[0] && !strchr(spec, ':') && !strchr(spec, '/')) {
        /* A bare name: a checkpoint of the run's own job, as the cookbook accepts (docs/protocol.md §6). */
        *out = NULL;
        int rc = fwt_resolve_checkpoint_path(out, spec, job_id);
        if (rc == FWT_OK)
            fwt__last_ok();
        return rc;
    }
    return fwt_checkpoint_spec_resolve(out, spec);
}
