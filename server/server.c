/* Server lifecycle: lock the data dir, create its layout, start the background thread, resume operations,
 * listen; and the orderly stop. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bg.h"
#include "ckpt.h"
#include "dataplane.h"
#include "futures.h"
#include "http.h"
#include "promote.h"
#include "records.h"
#include "replica.h"
#include "replica_store.h"
#include "route.h"
#include "store.h"
#include "util.h"

/* The data dir belongs to one server for its whole life: an exclusive flock on DATA/fwtrain-local.lock (the
 * kernel drops it when the process dies, even by SIGKILL, so a crash never leaves a stale lock). The holder's
 * pid is written into the file so a refused second server can name it. */
static int lock_data_dir(fwl_server *s)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/fwtrain-local.lock", s->cfg.data_dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fwl_log("cannot open the data-dir lock %s: %s", p, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : -1;
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        if (e == EWOULDBLOCK)
            fwl_log("data dir %s is in use by another fwtrain-local (pid %s); stop it or pick another --data-dir",
                    s->cfg.data_dir, pid[0] ? pid : "not yet recorded");
        else
            fwl_log("cannot lock %s: %s", p, strerror(e));
        close(fd);
        return -1;
    }
    char txt[32];
    int len = snprintf(txt, sizeof txt, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, txt, (size_t)len, 0) != len)
        fwl_log("cannot record the pid in %s: %s (the lock is held anyway)", p, strerror(errno));
    s->lock_fd = fd;
    return 0;
}

static void unlock_data_dir(fwl_server *s)
{
    if (s->lock_fd >= 0) {
        close(s->lock_fd); /* releases the flock */
        s->lock_fd = -1;
    }
}

int fwl_server_open(fwl_server *s)
{
    s->lock_fd = -1;
    if (fwl_mkdirs(s->cfg.data_dir) != 0 || lock_data_dir(s) != 0)
        return -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->rec_lock, NULL);
    pthread_mutex_init(&s->job_mu, NULL);
    pthread_cond_init(&s->fut_cond, NULL);
    pthread_cond_init(&s->park_cond, NULL); /* parked long-polls (futures.c); realtime clock like the deadlines */
    uint64_t st = (uint64_t)fwl_now_us() ^ ((uint64_t)getpid() << 20);
    s->epoch = (uint32_t)fwl_rand_u64(&st);
    char p[4200];
    const char *sub[] = {"jobs", "deployments", "models", "operations"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", s->cfg.data_dir, sub[i]);
        if (fwl_mkdirs(p) != 0) {
            unlock_data_dir(s); /* fwl_mkdirs logged the path and the reason */
            return -1;
        }
    }
    fwl_store_cleanup(s);
    fwl_replica_store_cleanup(s);
    if (fwl_bg_start(s, fwl_ttl_sweep) != 0) {
        fwl_log("cannot start the background thread");
        unlock_data_dir(s);
        return -1;
    }
    fwl_operations_resume(s);
    fwl_replica_resume_loads(s); /* hotloads accepted before a restart */
    return 0;
}

/* Wakes every sleeper and long-poll: they see `stopping` and return. */
static void announce_stop(fwl_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->fut_cond);
    pthread_mutex_unlock(&s->lock);
}

/* Stops what fwl_server_open started (HTTP already stopped or never started). */
static void server_close(fwl_server *s)
{
    announce_stop(s);
    fwl_bg_stop(s);
    fwl_trainer_shutdown(s);
    fwl_replicas_free(s);
    fwl_futures_free(s);
    fwl_job_cache_free(s);
    pthread_cond_destroy(&s->fut_cond);
    pthread_cond_destroy(&s->park_cond);
    pthread_mutex_destroy(&s->job_mu);
    pthread_mutex_destroy(&s->rec_lock);
    pthread_mutex_destroy(&s->lock);
    unlock_data_dir(s); /* last: nothing of this server touches the dir any more */
}

int fwl_server_start(fwl_server *s)
{
    if (fwl_server_open(s) != 0)
        return -1;
    if (fwl_http_start(s, fwl_route) != 0) {
        server_close(s);
        return -1;
    }
    return 0;
}

void fwl_server_stop(fwl_server *s)
{
    announce_stop(s); /* held long-polls return, so the HTTP threads can be joined */
    fwl_http_stop(s); /* then no request is running while the rest goes */
    server_close(s);
}

void fwl_server_close(fwl_server *s)
{
    server_close(s);
}
