/* fwtrain-local: the local Fireworks training API server. Command line, signals, startup banner. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "faults.h"
#include "server.h"
#include "state.h"
#include "store.h"
#include "util.h"

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
          "  --session-timeout-ms MS\n"
          "                        a session with no heartbeat, create_model or op for MS is dropped and its\n"
          "                        models unloaded, freeing their LoRA slots (default 60000, 0 = never)\n"
          "  --faults SPEC         seeded faults, e.g. seed=7,http503=0.1,http429=0.05,retry_after=1,\n"
          "                        http408=0.05,http410=0.01,drop=0.05,stall_body_ms=60000@0.02,\n"
          "                        drip_body_ms=1000@0.01,delay_ms=5000@0.01[,only=/PREFIX];\n"
          "                        hotload_busy=404 or 425: completions answer that status while their\n"
          "                        deployment loads a snapshot (as the service does mid-hotload)\n"
          "  --strict-hotload      behave like an old serving stack: unknown hotload body fields (e.g.\n"
          "                        reset_prompt_cache) are rejected with 400 \"Extra inputs are not permitted\"\n"
          "  --no-async-promotion  behave like an old control plane: async_promotion is rejected with 400\n"
          "  --no-gateway          the trainer gateway path (/training/v1/...) answers 503, as when the gateway\n"
          "                        cannot reach the trainer; the job's directRouteHandle (/direct/{job}) works\n"
          "  --max-connections N   open connections in all (default 1000); over it a new connection is refused\n"
          "  --max-client-connections N\n"
          "                        open connections from one address (default 256; 0 = no limit)\n"
          "  --idle-timeout-s S    close a connection that sends nothing for S seconds, before or inside a\n"
          "                        request (default 3); a request being answered (a held long-poll) is not idle\n"
          "  --http-threads N      event-driven HTTP threads (default: half the CPUs, at least 1): each serves\n"
          "                        many connections, and a held long-poll holds no thread; 0 = one thread per\n"
          "                        connection (also used when --faults stalls, drips or delays bodies)\n"
          "  --verbose             log every request (errors are always logged)\n"
          "  --help                this text\n"
          "\n"
          "Options take their value as the next argument or after '=' (--port=8080). The port must be free\n"
          "(it is never shared) and DIR is locked while the server runs: a second server on the same port or\n"
          "the same DIR exits at once with status 1, naming the holder.\n",
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

/* Long options; the values of `val` >= OPT_BASE index INT_OPTS for the integer ones. */
enum {
    OPT_HELP = 'h',
    OPT_BASE = 256,
    OPT_DATA_DIR = OPT_BASE,
    OPT_HOST,
    OPT_PORT_FILE,
    OPT_API_KEY,
    OPT_FAULTS,
    OPT_SEED,
    OPT_VERBOSE,
    OPT_STRICT_HOTLOAD,
    OPT_NO_ASYNC_PROMOTE,
    OPT_NO_GATEWAY,
    OPT_INT_FIRST /* the integer options follow, in INT_OPTS order */
};

typedef struct int_opt {
    const char *name;
    long lo, hi;
} int_opt;

static const int_opt INT_OPTS[] = {
    {"port", 0, 65535},           {"model-dim", 1, 4096},         {"long-poll-ms", 0, 600000},
    {"max-body-mib", 1, 4096},    {"job-start-ms", 0, 600000},    {"hotload-ms", 0, 600000},
    {"promote-ms", 0, 600000},    {"ttl-sweep-ms", 10, 600000},   {"max-connections", 1, 1000000},
    {"max-client-connections", 0, 1000000}, {"idle-timeout-s", 1, 3600}, {"session-timeout-ms", 0, 86400000},
    {"http-threads", 0, 64},
};
#define N_INT_OPTS (sizeof INT_OPTS / sizeof INT_OPTS[0])

static void set_int_opt(fwl_config *c, size_t i, long x)
{
    switch (i) {
    case 0: c->port = (int)x; break;
    case 1: c->model_dim = (int)x; break;
    case 2: c->long_poll_ms = (int)x; break;
    case 3: c->max_body_bytes = (size_t)x << 20; break;
    case 4: c->job_start_ms = (int)x; break;
    case 5: c->hotload_ms = (int)x; break;
    case 6: c->promote_ms = (int)x; break;
    case 7: c->ttl_sweep_ms = (int)x; break;
    case 8: c->max_connections = (int)x; break;
    case 9: c->max_per_client = (int)x; break;
    case 10: c->idle_timeout_s = (int)x; break;
    case 11: c->session_timeout_ms = (int)x; break;
    default: c->http_threads = (int)x; break;
    }
}

/* One string option; 0, or 2 after printing why. */
static int set_str_opt(fwl_config *c, int opt, const char *v)
{
    switch (opt) {
    case OPT_DATA_DIR:
        if (!*v || snprintf(c->data_dir, sizeof c->data_dir, "%s", v) >= (int)sizeof c->data_dir) {
            fprintf(stderr, "fwtrain-local: --data-dir must be 1..%zu characters\n", sizeof c->data_dir - 1);
            return 2;
        }
        return 0;
    case OPT_HOST:
        if (snprintf(c->host, sizeof c->host, "%s", v) >= (int)sizeof c->host) {
            fprintf(stderr, "fwtrain-local: --host is too long\n");
            return 2;
        }
        return 0;
    case OPT_PORT_FILE:
        if (snprintf(c->port_file, sizeof c->port_file, "%s", v) >= (int)sizeof c->port_file) {
            fprintf(stderr, "fwtrain-local: --port-file is too long\n");
            return 2;
        }
        return 0;
    case OPT_API_KEY:
        if (!*v || strlen(v) >= sizeof c->api_key) {
            fprintf(stderr, "fwtrain-local: --api-key must be 1..511 characters\n");
            return 2;
        }
        snprintf(c->api_key, sizeof c->api_key, "%s", v);
        c->api_key_default = false;
        return 0;
    default: { /* OPT_FAULTS */
        char err[256];
        if (fwl_faults_parse(&c->faults, v, err, sizeof err) != 0) {
            fprintf(stderr, "fwtrain-local: --faults: %s\n", err);
            return 2;
        }
        return 0;
    }
    }
}

static int set_seed(fwl_config *c, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long sd = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-') {
        fprintf(stderr, "fwtrain-local: --seed needs a non-negative integer\n");
        return 2;
    }
    c->seed = sd;
    return 0;
}

/* Parses argv into c with getopt_long (--opt VALUE and --opt=VALUE). -1 to go on; else the exit status. */
static int parse_args(int argc, char **argv, fwl_config *c)
{
    struct option opts[N_INT_OPTS + 16]; /* the non-integer options, the terminator, room */
    size_t n = 0;
    opts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[n++] = (struct option){"data-dir", required_argument, NULL, OPT_DATA_DIR};
    opts[n++] = (struct option){"host", required_argument, NULL, OPT_HOST};
    opts[n++] = (struct option){"port-file", required_argument, NULL, OPT_PORT_FILE};
    opts[n++] = (struct option){"api-key", required_argument, NULL, OPT_API_KEY};
    opts[n++] = (struct option){"faults", required_argument, NULL, OPT_FAULTS};
    opts[n++] = (struct option){"seed", required_argument, NULL, OPT_SEED};
    opts[n++] = (struct option){"verbose", no_argument, NULL, OPT_VERBOSE};
    opts[n++] = (struct option){"strict-hotload", no_argument, NULL, OPT_STRICT_HOTLOAD};
    opts[n++] = (struct option){"no-async-promotion", no_argument, NULL, OPT_NO_ASYNC_PROMOTE};
    opts[n++] = (struct option){"no-gateway", no_argument, NULL, OPT_NO_GATEWAY};
    for (size_t i = 0; i < N_INT_OPTS; i++)
        opts[n++] = (struct option){INT_OPTS[i].name, required_argument, NULL, OPT_INT_FIRST + (int)i};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    opterr = 0; /* our own messages */
    int opt, rc = -1;
    while (rc < 0 && (opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *arg = argv[optind - 1];
        long x;
        if (opt == OPT_HELP) {
            usage(stdout);
            rc = 0;
        } else if (opt == '?') {
            fprintf(stderr, "fwtrain-local: unknown argument '%s' (see --help)\n", arg);
            rc = 2;
        } else if (opt == ':') {
            fprintf(stderr, "fwtrain-local: %s needs a value\n", arg);
            rc = 2;
        } else if (opt == OPT_VERBOSE || opt == OPT_STRICT_HOTLOAD || opt == OPT_NO_ASYNC_PROMOTE ||
                   opt == OPT_NO_GATEWAY) {
            *(opt == OPT_VERBOSE           ? &c->verbose
              : opt == OPT_STRICT_HOTLOAD  ? &c->strict_hotload
              : opt == OPT_NO_GATEWAY      ? &c->no_gateway
                                           : &c->no_async_promote) = true;
        } else if (opt == OPT_SEED) {
            rc = set_seed(c, optarg) ? 2 : -1;
        } else if (opt >= OPT_INT_FIRST) {
            const int_opt *io = &INT_OPTS[opt - OPT_INT_FIRST];
            if (parse_int(optarg, io->lo, io->hi, &x) != 0) {
                fprintf(stderr, "fwtrain-local: --%s needs an integer in %ld..%ld\n", io->name, io->lo, io->hi);
                rc = 2;
            } else {
                set_int_opt(c, (size_t)(opt - OPT_INT_FIRST), x);
            }
        } else {
            rc = set_str_opt(c, opt, optarg) ? 2 : -1;
        }
    }
    if (rc < 0 && optind < argc) {
        fprintf(stderr, "fwtrain-local: unexpected argument '%s' (see --help)\n", argv[optind]);
        rc = 2;
    }
    return rc;
}

/* Checks what the options mean together and makes --data-dir absolute; 0 or the exit status. */
static int check_config(fwl_config *c)
{
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
        if (!getcwd(cwd, sizeof cwd)) {
            fprintf(stderr, "fwtrain-local: cannot resolve --data-dir %s: getcwd: %s\n", c->data_dir, strerror(errno));
            return 2;
        }
        if (snprintf(abs, sizeof abs, "%s/%s", cwd, c->data_dir) >= (int)sizeof abs) {
            fprintf(stderr, "fwtrain-local: cannot resolve --data-dir %s: path too long\n", c->data_dir);
            return 2;
        }
        snprintf(c->data_dir, sizeof c->data_dir, "%s", abs);
    }
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%d\n", port);
    char abs[6200];
    if (path[0] != '/') {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd)) {
            fwl_log("cannot resolve --port-file %s: getcwd: %s", path, strerror(errno));
            return -1;
        }
        snprintf(abs, sizeof abs, "%s/%s", cwd, path);
    } else {
        snprintf(abs, sizeof abs, "%s", path);
    }
    return fwl_write_atomic(abs, txt, (size_t)n);
}

/* Every connection is a descriptor: take the hard limit, so --max-connections is reachable (say so if not). */
static void raise_fd_limit(const fwl_config *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)c->max_connections + 64)
        fwl_log("open-file limit %llu is below --max-connections %d + 64: new connections may fail with EMFILE",
                (unsigned long long)rl.rlim_cur, c->max_connections);
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
    int rc = parse_args(argc, argv, c);
    if (rc >= 0)
        return rc;
    if ((rc = check_config(c)) != 0)
        return rc;

    /* Block the stop signals in every thread; main waits for them with sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    raise_fd_limit(c);
    if (fwl_server_start(&srv) != 0)
        return 1;
    if (c->api_key_default)
        fwl_log("no --api-key given: accepting the development key \"local-dev-key\"");
    if (c->faults.enabled)
        fwl_log("fault injection is on");
    printf("listening on http://%s:%d\n", c->host, srv.bound_port);
    fflush(stdout);
    if (c->port_file[0] && write_port_file(c->port_file, srv.bound_port) != 0) {
        fwl_log("cannot write --port-file %s (reason above)", c->port_file);
        fwl_server_stop(&srv);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    fwl_log("signal %d: stopping", sig);
    fwl_server_stop(&srv);
    return 0;
}
