/*
 * The checkpointer's local policies: what to do with a log directory that
 * already holds a run (fwt_log_dir_policy), and the clock of time-based
 * periodic saves (save_interval_ms).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer_impl.h"
#include "fwt_util.h"

static const char *const run_files[] = {"checkpoints.jsonl", "dataloader.json"};

int fwt__ckpt_apply_dir_policy(const char *log_path, int policy)
{
    if (policy == FWT_LOG_DIR_RESUME)
        return FWT_OK;
    for (size_t i = 0; i < sizeof run_files / sizeof *run_files; i++) {
        char *path = fwt__asprintf("%s/%s", log_path, run_files[i]);
        if (!path)
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        int rc = FWT_OK;
        if (policy == FWT_LOG_DIR_FAIL_IF_EXISTS) {
            if (access(path, F_OK) == 0)
                rc = fwt__last_set(FWT_ECONFLICT,
                                   "%s already holds a run (log_dir_policy FWT_LOG_DIR_FAIL_IF_EXISTS): use another "
                                   "log_path, or FWT_LOG_DIR_RESUME / FWT_LOG_DIR_OVERWRITE",
                                   path);
        } else if (unlink(path) != 0 && errno != ENOENT) {
            rc = fwt__last_set(FWT_EIO, "log_dir_policy FWT_LOG_DIR_OVERWRITE: cannot remove %s: %s", path,
                               strerror(errno));
        }
        fwt__free_mem(path);
        if (rc != FWT_OK)
            return rc;
    }
    return FWT_OK;
}

int64_t fwt__ckpt_now_ms(const fwt_checkpointer *c)
{
    if (c->clock_ms)
        return c->clock_ms(c->clock_payload);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
