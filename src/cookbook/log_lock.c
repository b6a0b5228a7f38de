/*
 * One checkpointer per log_path (docs/protocol.md §7.1).
 *
 * Two writers on one log_path both start fresh on the same job, overwrite each
 * other's checkpoints on the server and interleave their registry lines. The
 * checkpointer therefore holds an exclusive flock on {log_path}/checkpointer.lock
 * for its whole life. flock (not fcntl) because its lock belongs to the open
 * file description: a second checkpointer in the same process conflicts too,
 * and closing some other descriptor of the file never drops it. The kernel
 * releases it when the holder exits, however it exits, so a stale file is
 * harmless. The holder writes its pid into the file so the loser can name it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "fwt_util.h"
#include "registry_impl.h"

#define LOCK_FILE "checkpointer.lock"
/* The holder writes its pid right after it got the lock; wait at most this long to read it. */
#define PID_WAIT_TRIES 50
#define PID_WAIT_NS 2000000L

/* The pid recorded in the lock file, or 0 if none is readable. */
static long read_holder(int fd)
{
    for (int i = 0; i < PID_WAIT_TRIES; i++) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            char *end = NULL;
            long pid = strtol(buf, &end, 10);
            if (pid > 0 && end && *end == '\n')
                return pid;
        }
        struct timespec ts = {0, PID_WAIT_NS};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int fwt__log_lock(int *out_fd, const char *log_path)
{
    *out_fd = -1;
    int rc = fwt__ckpt_make_dirs(log_path);
    if (rc != FWT_OK)
        return rc;
    size_t n = strlen(log_path);
    while (n > 1 && log_path[n - 1] == '/')
        n--;
    char *path = fwt__asprintf("%.*s/%s", (int)n, log_path, LOCK_FILE);
    if (!path)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    int fd;
    do
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        rc = fwt__last_set(FWT_EIO, "cannot open %s: %s", path, strerror(errno));
        fwt__free_mem(path);
        return rc;
    }
    int lr;
    do
        lr = flock(fd, LOCK_EX | LOCK_NB);
    while (lr != 0 && errno == EINTR);
    if (lr != 0 && errno == EWOULDBLOCK) {
        long pid = read_holder(fd);
        char who[64];
        if (pid == (long)getpid())
            snprintf(who, sizeof who, "another checkpointer of this process (pid %ld)", pid);
        else if (pid > 0)
            snprintf(who, sizeof who, "the process with pid %ld", pid);
        else
            snprintf(who, sizeof who, "another process (its pid is not recorded)");
        rc = fwt__last_set(FWT_ECONFLICT,
                           "log_path %.*s is in use: %s holds %s; two checkpointers on one log_path would overwrite "
                           "each other's checkpoints. Wait for it to finish, or give this run another log_path",
                           (int)n, log_path, who, path);
    } else if (lr != 0) {
        rc = fwt__last_set(FWT_EIO, "cannot lock %s: %s", path, strerror(errno));
    } else {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        /* Best effort: the lock is what excludes; the pid only names the holder in the loser's message. */
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != (ssize_t)len) {
        }
    }
    fwt__free_mem(path);
    if (rc != FWT_OK) {
        close(fd);
        return rc;
    }
    *out_fd = fd;
    return FWT_OK;
}

void fwt__log_unlock(int fd)
{
    if (fd < 0)
        return;
    /* Still holding the lock: a free lock file names nobody (a crash leaves a stale pid, which is harmless). */
    if (ftruncate(fd, 0) != 0) {
    }
    close(fd); /* releases the flock */
}
