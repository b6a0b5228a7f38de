/* fwtrain-local: the local Fireworks training API server. Command line, signals, startup banner. */
#include "fwl.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage: fwtrain-local --data-dir DIR [options]\n"
          "\n"
          "A local server speaking the Fireworks Training API: control plane (/v1/accounts/local/...),\n"
          "trainer data plane (/training/v1/rlorTrainerJobs/local/{job}/api/v1/...), hotload\n"
          "(/hot_load/v1/models/hot_load) and inference (/inference/v1/completions).\n"
          "\n"
          "  --data-dir DIR        where jobs, checkpoints, deployments, models and operations live (required)\n"
          "  --host ADDR           address to bind (default 127.0.0.1)\n"
          "  --port N              port (default 0 = pick a free one)\n"
          "  --port-file F         write the bound port to F (atomically)\n"
          "  --api-key KEY         accepted key (default local-dev-key); also read from FWL_API_KEY\n"
          "  --model-dim N         width of the byte-level model (default 16)\n"
          "  --seed S              model init seed (default 0)\n"
          "  --long-poll-ms MS     how long retrieve_future holds a pending request (default 30000)\n"
          "  --max-body-mib N      largest accepted request body (default 64)\n"
          "  --job-start-ms MS     time a new trainer job spends in JOB_STATE_CREATING (default 200)\n"
          "  --hotload-ms MS       time a replica spends downloading a snapshot (default 50)\n"
          "  --promote-ms MS       time an async promotion stays not done (default 200)\n"
          "  --ttl-sweep-ms MS     period of the checkpoint TTL sweep (default 1000)\n"
          "  --session-timeout-ms MS  a session with no heartbeat, create_model or op for MS is dropped and its\n"
          "                        models unloaded, freeing their LoRA slots (default 60000, 0 = never)\n"
          "  --faults SPEC         seeded faults, e.g. seed=7,http503=0.1,http429=0.05,retry_after=1,\n"
          "                        http408=0.05,http410=0.01,drop=0.05,stall_body_ms=60000@0.02,\n"
          "                        drip_body_ms=1000@0.01,delay_ms=5000@0.01[,only=/PREFIX];\n"
          "                        hotload_busy=404 or 425: completions answer that status while their\n"
          "                        deployment loads a snapshot (as the service does mid-hotload)\n"
          "  --strict-hotload      behave like an old serving stack: unknown hotload body fields (e.g.\n"
          "                        reset_prompt_cache) are rejected with 400 \"Extra inputs are not permitted\"\n"
          "  --no-async-promotion  behave like an old control plane: async_promotion is rejected with 400\n"
          "  --verbose             log every request (errors are always logged)\n"
          "  --help                this text\n",
          f);
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%d\n", port);
    char abs[6200];
    if (path[0] != '/') {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd))
            return -1;
        snprintf(abs, sizeof abs, "%s/%s", cwd, path);
    } else {
        snprintf(abs, sizeof abs, "%s", path);
    }
    return fwl_write_atomic(abs, txt, (size_t)n);
}

int main(int argc, char **argv)
{
    static fwl_server srv;
    fwl_config *c = &srv.cfg;
    fwl_config_defaults(c);
    const char *env_key = getenv("FWL_API_KEY");
    if (env_key && *env_key) {
        snprintf(c->api_key, sizeof c->api_key, "%s", env_key);
        c->api_key_default = false;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
#define NEED_VALUE()                                                                                                   \
    do {                                                                                                               \
        if (!v) {                                                                                                      \
            fprintf(stderr, "fwtrain-local: %s needs a value\n", a);                                                   \
            return 2;                                                                                                  \
        }                                                                                                              \
        i++;                                                                                                           \
    } while (0)
#define INT_OPT(flag, lo, hi, dst)                                                                                     \
    if (!strcmp(a, flag)) {                                                                                            \
        NEED_VALUE();                                                                                                  \
        if (parse_int(v, lo, hi, &x) != 0) {                                                                           \
            fprintf(stderr, "fwtrain-local: %s needs an integer in %ld..%ld\n", a, (long)(lo), (long)(hi));            \
            return 2;                                                                                                  \
        }                                                                                                              \
        dst;                                                                                                           \
        continue;                                                                                                      \
    }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--verbose")) {
            c->verbose = true;
            continue;
        }
        if (!strcmp(a, "--strict-hotload")) {
            c->strict_hotload = true;
            continue;
        }
        if (!strcmp(a, "--no-async-promotion")) {
            c->no_async_promote = true;
            continue;
        }
        if (!strcmp(a, "--data-dir")) {
            NEED_VALUE();
            if (snprintf(c->data_dir, sizeof c->data_dir, "%s", v) >= (int)sizeof c->data_dir) {
                fprintf(stderr, "fwtrain-local: --data-dir too long\n");
                return 2;
            }
            continue;
        }
        if (!strcmp(a, "--host")) {
            NEED_VALUE();
            snprintf(c->host, sizeof c->host, "%s", v);
            continue;
        }
        if (!strcmp(a, "--port-file")) {
            NEED_VALUE();
            snprintf(c->port_file, sizeof c->port_file, "%s", v);
            continue;
        }
        if (!strcmp(a, "--api-key")) {
            NEED_VALUE();
            if (!*v || strlen(v) >= sizeof c->api_key) {
                fprintf(stderr, "fwtrain-local: --api-key must be 1..511 characters\n");
                return 2;
            }
            snprintf(c->api_key, sizeof c->api_key, "%s", v);
            c->api_key_default = false;
            continue;
        }
        if (!strcmp(a, "--faults")) {
            NEED_VALUE();
            char err[256];
            if (fwl_faults_parse(&c->faults, v, err, sizeof err) != 0) {
                fprintf(stderr, "fwtrain-local: --faults: %s\n", err);
                return 2;
            }
            continue;
        }
        if (!strcmp(a, "--seed")) {
            NEED_VALUE();
            char *end;
            errno = 0;
            unsigned long long sd = strtoull(v, &end, 10);
            if (errno || end == v || *end) {
                fprintf(stderr, "fwtrain-local: --seed needs a non-negative integer\n");
                return 2;
            }
            c->seed = sd;
            continue;
        }
        INT_OPT("--port", 0, 65535, c->port = (int)x)
        INT_OPT("--model-dim", 1, 4096, c->model_dim = (int)x)
        INT_OPT("--long-poll-ms", 0, 600000, c->long_poll_ms = (int)x)
        INT_OPT("--max-body-mib", 1, 4096, c->max_body_bytes = (size_t)x << 20)
        INT_OPT("--job-start-ms", 0, 600000, c->job_start_ms = (int)x)
        INT_OPT("--hotload-ms", 0, 600000, c->hotload_ms = (int)x)
        INT_OPT("--session-timeout-ms", 0, 86400000, c->session_timeout_ms = (int)x)
        INT_OPT("--promote-ms", 0, 600000, c->promote_ms = (int)x)
        INT_OPT("--ttl-sweep-ms", 10, 600000, c->ttl_sweep_ms = (int)x)
        fprintf(stderr, "fwtrain-local: unknown argument '%s' (see --help)\n", a);
        return 2;
    }
    /* the development key is public: only loopback may use it */
    bool loopback = !strncmp(c->host, "127.", 4) || !strcmp(c->host, "::1") || !strcmp(c->host, "localhost");
    if (c->api_key_default && !loopback) {
        fprintf(stderr, "fwtrain-local: --host %s is not loopback: set --api-key or FWL_API_KEY (the default key is public)\n",
                c->host);
        return 2;
    }
    if (!c->data_dir[0]) {
        fprintf(stderr, "fwtrain-local: --data-dir is required (see --help)\n");
        return 2;
    }
    if (c->data_dir[0] != '/') {
        char cwd[2048], abs[2048];
        if (!getcwd(cwd, sizeof cwd) || snprintf(abs, sizeof abs, "%s/%s", cwd, c->data_dir) >= (int)sizeof abs) {
            fprintf(stderr, "fwtrain-local: cannot resolve --data-dir\n");
            return 2;
        }
        snprintf(c->data_dir, sizeof c->data_dir, "%s", abs);
    }

    /* Block the stop signals in every thread; main waits for them with sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (fwl_server_start(&srv) != 0)
        return 1;
    if (c->api_key_default)
        fwl_log("no --api-key given: accepting the development key \"local-dev-key\"");
    if (c->faults.enabled)
        fwl_log("fault injection is on");
    printf("listening on http://%s:%d\n", c->host, srv.bound_port);
    fflush(stdout);
    if (c->port_file[0] && write_port_file(c->port_file, srv.bound_port) != 0) {
        fwl_log("cannot write --port-file %s", c->port_file);
        fwl_server_stop(&srv);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    fwl_log("signal %d: stopping", sig);
    fwl_server_stop(&srv);
    return 0;
}
