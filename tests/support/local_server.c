/* Start/stop fwtrain-local for tests and benchmarks (see local_server.h). */
#include "local_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct fwt_local_server {
    char binary[4096];
    char tmp_root[2048];   /* non-empty when we created it */
    char data_dir[4096];
    char port_file[2100];
    char log_path[2100];
    char api_key[512];
    char url[64];
    char **extra;
    int n_extra;
    int port;
    int start_timeout_ms, stop_timeout_ms;
    int quiet;
    pid_t pid;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                char sub[8192];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        return rmdir(path);
    }
    return unlink(path);
}

void fwt_local_server_opts_init(fwt_local_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->quiet = 1;
}

static int spawn(fwt_local_server *s)
{
    unlink(s->port_file);
    char **argv = calloc((size_t)s->n_extra + 16, sizeof *argv);
    int n = 0;
    argv[n++] = s->binary;
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = s->port_file;
    for (int i = 0; i < s->n_extra; i++)
        argv[n++] = s->extra[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        return -1;
    }
    if (pid == 0) {
        /* die with the test: a failed assertion that longjmps past fwt_local_server_free never leaks a server */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the parent already died between fork and prctl */
        if (s->quiet) {
            int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        /* a fresh signal state: the test may block or ignore signals */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        /* the key goes through the environment, not argv (argv is visible to every local user) */
        setenv("FWL_API_KEY", s->api_key, 1);
        execv(s->binary, argv);
        _exit(127);
    }
    free(argv);
    s->pid = pid;
    long long deadline = now_ms() + s->start_timeout_ms;
    while (now_ms() < deadline) {
        FILE *f = fopen(s->port_file, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1 && port > 0) {
                s->port = port;
                snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", port);
                return 0;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "local_server: fwtrain-local exited during start (status %d); log: %s\n", status,
                    s->quiet ? s->log_path : "(stderr)");
            s->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "local_server: fwtrain-local did not report a port within %d ms\n", s->start_timeout_ms);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    s->pid = 0;
    return -1;
}

int fwt_local_server_start(fwt_local_server **out, const fwt_local_server_opts *o)
{
    fwt_local_server_opts def;
    if (!o) {
        fwt_local_server_opts_init(&def);
        o = &def;
    }
    *out = NULL;
    fwt_local_server *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    const char *bin = o->binary;
    if (!bin)
        bin = getenv("FWL_BINARY");
#ifdef FWL_BINARY
    if (!bin)
        bin = FWL_BINARY;
#endif
    if (!bin) {
        fprintf(stderr, "local_server: no fwtrain-local binary (FWL_BINARY)\n");
        free(s);
        return -1;
    }
    snprintf(s->binary, sizeof s->binary, "%s", bin);
    snprintf(s->api_key, sizeof s->api_key, "%s", o->api_key ? o->api_key : "test-key");
    s->start_timeout_ms = o->start_timeout_ms > 0 ? o->start_timeout_ms : 10000;
    s->stop_timeout_ms = o->stop_timeout_ms > 0 ? o->stop_timeout_ms : 5000;
    s->quiet = o->quiet;
    const char *tmpdir = getenv("TMPDIR");
    char tmpl[2000];
    snprintf(tmpl, sizeof tmpl, "%.1900s/fwl-test-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "local_server: mkdtemp failed: %s\n", strerror(errno));
        free(s);
        return -1;
    }
    snprintf(s->tmp_root, sizeof s->tmp_root, "%s", tmpl);
    if (o->data_dir)
        snprintf(s->data_dir, sizeof s->data_dir, "%s", o->data_dir);
    else
        snprintf(s->data_dir, sizeof s->data_dir, "%s/data", tmpl);
    snprintf(s->port_file, sizeof s->port_file, "%s/port", tmpl);
    snprintf(s->log_path, sizeof s->log_path, "%s/server.log", tmpl);
    if (o->extra_args) {
        while (o->extra_args[s->n_extra])
            s->n_extra++;
        s->extra = calloc((size_t)s->n_extra + 1, sizeof *s->extra);
        for (int i = 0; i < s->n_extra; i++)
            s->extra[i] = strdup(o->extra_args[i]);
    }
    *out = s;
    return spawn(s);
}

const char *fwt_local_server_url(const fwt_local_server *s)
{
    return s ? s->url : NULL;
}

int fwt_local_server_port(const fwt_local_server *s)
{
    return s ? s->port : 0;
}

const char *fwt_local_server_data_dir(const fwt_local_server *s)
{
    return s ? s->data_dir : NULL;
}

const char *fwt_local_server_account(const fwt_local_server *s)
{
    (void)s;
    return "local";
}

const char *fwt_local_server_api_key(const fwt_local_server *s)
{
    return s ? s->api_key : NULL;
}

const char *fwt_local_server_log_path(const fwt_local_server *s)
{
    return s && s->quiet ? s->log_path : NULL;
}

pid_t fwt_local_server_pid(const fwt_local_server *s)
{
    return s ? s->pid : 0;
}

int fwt_local_server_stop(fwt_local_server *s)
{
    if (!s || s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    long long deadline = now_ms() + s->stop_timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid)
            break;
        if (r < 0 && errno != EINTR) {
            s->pid = 0;
            return -1;
        }
        if (now_ms() >= deadline) {
            fprintf(stderr, "local_server: fwtrain-local ignored SIGTERM for %d ms; killing it\n", s->stop_timeout_ms);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            s->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
    s->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int fwt_local_server_kill9(fwt_local_server *s)
{
    if (!s || s->pid <= 0)
        return -1;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    return 0;
}

int fwt_local_server_restart(fwt_local_server *s)
{
    if (!s)
        return -1;
    if (s->pid > 0)
        fwt_local_server_stop(s);
    return spawn(s);
}

void fwt_local_server_free(fwt_local_server *s)
{
    if (!s)
        return;
    if (s->pid > 0)
        fwt_local_server_stop(s);
    if (s->tmp_root[0] && !getenv("FWT_KEEP_TMP"))
        rm_rf(s->tmp_root);
    for (int i = 0; i < s->n_extra; i++)
        free(s->extra[i]);
    free(s->extra);
    free(s);
}
