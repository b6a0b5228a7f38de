/* Helpers shared by the fwtrain commands. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

cli_global cli_opts;

int cli_take_global_options(int *argc, char **argv)
{
    int out = 1;
    int i = 1;
    for (; i < *argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        const char *val = NULL;
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            cli_opts.verbose = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            cli_opts.quiet = 1;
        } else if (!strcmp(a, "--allow-insecure-http")) {
            cli_opts.allow_insecure_http = 1;
        } else if (!strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10)) {
            if (a[9] == '=')
                val = a + 10;
            else if (i + 1 < *argc)
                val = argv[++i];
            char *end = NULL;
            errno = 0;
            double secs = val && *val ? strtod(val, &end) : 0;
            if (!val || !*val || errno || *end || !(secs > 0) || secs > 86400.0 * 7) {
                cli_error("--timeout needs a number of seconds above 0 (at most a week), got '%s'", val ? val : "");
                return CLI_EXIT_USAGE;
            }
            cli_opts.timeout_ms = (int64_t)(secs * 1000.0 + 0.5);
            if (cli_opts.timeout_ms < 1)
                cli_opts.timeout_ms = 1;
        } else {
            argv[out++] = argv[i];
        }
    }
    for (; i < *argc; i++)
        argv[out++] = argv[i];
    argv[out] = NULL;
    *argc = out;
    if (cli_opts.verbose && cli_opts.quiet) {
        cli_error("--verbose and --quiet exclude each other");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

void cli_note(const char *fmt, ...)
{
    if (cli_opts.quiet)
        return;
    va_list ap;
    fputs("fwtrain: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/*
 * Library messages name library options; a CLI user sets them another way (or not at
 * all). Say the CLI's way, so no message suggests something the user cannot set.
 */
static void cli_translate(char *out, size_t n, const char *msg)
{
    static const char *const map[][2] = {
        {"allow_insecure_http", "--allow-insecure-http"},
        {"unreachable_timeout_ms", "--timeout"},
        {"retry_budget_ms", "--timeout"},
        {"options.api_key or FIREWORKS_API_KEY", "FIREWORKS_API_KEY"},
        {"set account_id", "set FIREWORKS_ACCOUNT_ID"},
    };
    size_t o = 0;
    while (*msg && o + 1 < n) {
        size_t k = 0;
        for (; k < sizeof map / sizeof map[0]; k++)
            if (!strncmp(msg, map[k][0], strlen(map[k][0])))
                break;
        if (k < sizeof map / sizeof map[0]) {
            size_t len = strlen(map[k][1]);
            if (o + len >= n)
                break;
            memcpy(out + o, map[k][1], len);
            o += len;
            msg += strlen(map[k][0]);
        } else {
            out[o++] = *msg++;
        }
    }
    out[o] = '\0';
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("fwtrain: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_fail(const char *what, int status, const fwt_error *detail)
{
    char translated[2048];
    cli_translate(translated, sizeof translated,
                  detail && detail->message && detail->message[0] ? detail->message : fwt_strerror(status));
    const char *msg = translated;
    char http[32] = "";
    if (detail && detail->http_status)
        snprintf(http, sizeof http, "HTTP %d", (int)detail->http_status);
    /* The library's own messages usually name the status already ("... (HTTP 404)"). */
    if (http[0] && !strstr(msg, http))
        cli_error("%s: %s (%s)", what, msg, http);
    else
        cli_error("%s: %s", what, msg);
    if (status == FWT_EAUTH) {
        /* Only a 401 says the key itself was refused; a 403 is a permission the key lacks. */
        if (!detail || detail->http_status == 401)
            cli_error("check FIREWORKS_API_KEY: it must be a training-scoped key of this account");
        return CLI_EXIT_AUTH;
    }
    if (status == FWT_EINVAL)
        return CLI_EXIT_USAGE;
    return CLI_EXIT_FAILED;
}

int cli_parse_count(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

void cli_auto_output_model_id(char out[64], const char *base_model, const char *checkpoint, int64_t unix_time)
{
    const char *slash = base_model ? strrchr(base_model, '/') : NULL;
    const char *model_short = slash ? slash + 1 : (base_model ? base_model : "");
    char raw[512];
    snprintf(raw, sizeof raw, "%s-promote-%s-%lld", model_short, checkpoint ? checkpoint : "",
             (long long)(unix_time % 100000));
    /* lowercase; every run of characters outside [a-z0-9-] becomes one '-'; '--' collapses */
    size_t n = 0;
    char buf[512];
    for (const char *p = raw; *p && n + 1 < sizeof buf; p++) {
        char c = (char)tolower((unsigned char)*p);
        int keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!keep)
            c = '-';
        if (c == '-' && n > 0 && buf[n - 1] == '-')
            continue;
        buf[n++] = c;
    }
    buf[n] = '\0';
    const char *start = buf;
    while (*start == '-')
        start++;
    size_t len = strlen(start);
    if (len > 63)
        len = 63;
    while (len > 0 && start[len - 1] == '-')
        len--;
    if (len == 0) {
        snprintf(out, 64, "promoted-model");
        return;
    }
    memcpy(out, start, len);
    out[len] = '\0';
}

/* The library's log on stderr: retries (WARN) by default, everything with --verbose. */
static void cli_log(int level, const char *message, void *payload)
{
    (void)payload;
    static const char *const tag[] = {"error: ", "", "", "debug: "};
    fprintf(stderr, "fwtrain: %s%s\n", level >= 0 && level <= 3 ? tag[level] : "", message);
}

int cli_client(fwt_client **out)
{
    const char *key = getenv("FIREWORKS_API_KEY");
    if (!key || !*key) {
        cli_error("FIREWORKS_API_KEY is not set (export your Fireworks API key; FIREWORKS_BASE_URL selects the server)");
        return CLI_EXIT_USAGE;
    }
    fwt_client_options opts;
    fwt_client_options_init(&opts, FWT_CLIENT_OPTIONS_VERSION);
    const char *account = getenv("FIREWORKS_ACCOUNT_ID");
    if (account && *account)
        opts.account_id = account;
    opts.log_fn = cli_log;
    opts.log_level = cli_opts.verbose ? FWT_LOG_DEBUG : cli_opts.quiet ? FWT_LOG_ERROR : FWT_LOG_WARN;
    opts.allow_insecure_http = cli_opts.allow_insecure_http;
    if (cli_opts.timeout_ms > 0) {
        /* --timeout bounds each request's retries, reachable server or not. */
        opts.unreachable_timeout_ms = cli_opts.timeout_ms;
        opts.retry_budget_ms = cli_opts.timeout_ms;
    }
    int rc = fwt_client_new(out, &opts);
    if (rc != FWT_OK)
        return cli_fail("cannot create the client", rc, fwt_error_last());
    return CLI_EXIT_OK;
}
