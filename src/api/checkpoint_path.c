/* resolve_checkpoint_path (docs/protocol.md §4.7): pure client logic, no request. */
#include <string.h>

#include "fwt_util.h"
#include "fwtrain/training.h"

int fwt_resolve_checkpoint_path(char **out, const char *name, const char *source_job_id)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_resolve_checkpoint_path: out is NULL");
    *out = NULL;
    if (!name)
        return fwt__last_set(FWT_EINVAL, "fwt_resolve_checkpoint_path: name is NULL");
    if (strncmp(name, "gs://", 5) == 0 || name[0] == '/') {
        *out = fwt__strdup(name);
        return *out ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (!source_job_id) {
        if (!*name)
            return fwt__last_set(FWT_EINVAL, "fwt_resolve_checkpoint_path: name is empty");
        *out = fwt__strdup(name);
        return *out ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    char *job = fwt__strtrim_dup(source_job_id);
    char *nm = fwt__strtrim_dup(name);
    int rc = FWT_OK;
    if (!job || !nm)
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    else if (!*job)
        rc = fwt__last_set(FWT_EINVAL, "source_job_id is empty");
    else if (!*nm)
        rc = fwt__last_set(FWT_EINVAL, "name is empty");
    else if (strchr(nm, '/') || !strcmp(nm, ".") || !strcmp(nm, ".."))
        rc = fwt__last_set(FWT_EINVAL, "name must be a checkpoint name, not a path, when source_job_id is given");
    else if (strchr(job, '/') || !strcmp(job, ".") || !strcmp(job, ".."))
        rc = fwt__last_set(FWT_EINVAL, "source_job_id must be a job id (no '/', not \".\" or \"..\")");
    else if (!(*out = fwt__asprintf("cross_job://%s/%s", job, nm)))
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__free_mem(job);
    fwt__free_mem(nm);
    if (!rc)
        fwt__last_ok();
    return rc;
}
