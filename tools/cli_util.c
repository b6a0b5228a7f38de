/* Helpers shared by the fwtrain commands. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
    const char *msg = detail && detail->message && detail->message[0] ? detail->message : fwt_strerror(status);
    char http[32] = "";
    if (detail && detail->http_status)
        snprintf(http, sizeof http, "HTTP %d", (int)detail->http_status);
    /* The library's own messages usually name the status already ("... (HTTP 404)"). */
    if (http[0] && !strstr(msg, http))
        cli_error("%s: %s (%s)", what, msg, http);
    else
        cli_error("%s: %s", what, msg);
    if (status == FWT_EAUTH) {
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

int cli_client(fwt_client **out)
{
    const char *key = getenv("FIREWORKS_API_KEY");
    if (!key || !*key) {
        cli_error("FIREWORKS_API_KEY is not set (export your Fireworks API key; FIREWORKS_BASE_URL selects the server)");
        return CLI_EXIT_USAGE;
    }
    fwt_client_options opts;
    fwt_client_options_init(&opts, FWT_CLIENT_OPTIONS_VERSION);
    int rc = fwt_client_new(out, &opts);
    if (rc != FWT_OK)
        return cli_fail("cannot create the client", rc, fwt_error_last());
    return CLI_EXIT_OK;
}
