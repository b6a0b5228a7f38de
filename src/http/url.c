/*
 * URL checks. They use libcurl's own URL parser so the host we judge is the
 * host curl will connect to (no parser differential to exploit).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/engine_int.h"

static CURLU *parse(const char *url)
{
    if (!url || !*url)
        return NULL;
    CURLU *u = curl_url();
    if (!u)
        return NULL;
    /* No default scheme guessing: "example.com/x" is not a URL here. */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

static int host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        char buf[64];
        if (n - 2 >= sizeof buf)
            return 0;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return 0;
        return memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
    }
    return 0;
}

static char *log_form(CURLU *u)
{
    /* Query strings and userinfo can carry secrets: drop them from logs. */
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    char *s = NULL;
    char *out = NULL;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK && s)
        out = fwt__strdup(s);
    curl_free(s);
    return out;
}

/*
 * The verdict on a URL's scheme and host depends only on its origin: the
 * bytes before the first '/', '?' or '#' after "://", where curl's parser
 * ends the authority too (urlapi.c: strcspn(host, "/?#")). A thread remembers the last origin curl accepted,
 * so a run of calls to one server parses each URL's origin once (a full
 * curl_url parse costs more than a tenth of a loopback round trip). URLs
 * with a control byte, a space or a non-ASCII byte, or too long for curl,
 * always take the full parse, so curl still rejects what it would reject.
 */
typedef struct origin_memo {
    char origin[256];
    size_t len;
    int https, loopback;
} origin_memo;

static _Thread_local origin_memo tl_memo;

#define FWT__CURL_MAX_URL 8000000 /* libcurl's CURL_MAX_INPUT_LENGTH */

/*
 * Length of the URL's origin, or 0 when the fast path must not be used. Only
 * "http://" or "https://" followed by a non-empty authority qualify: curl also
 * accepts one or three slashes, and there the authority starts elsewhere.
 */
static size_t origin_len(const char *url)
{
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    if (!scheme)
        return 0;
    size_t authority = strcspn(url + scheme, "/?#");
    if (authority == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)url;
    for (; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    if ((size_t)(p - (const unsigned char *)url) >= FWT__CURL_MAX_URL)
        return 0; /* curl refuses longer input outright */
    size_t n = scheme + authority;
    return n < sizeof tl_memo.origin ? n : 0;
}

int fwt__url_inspect(const char *url, int *is_https, int *is_loopback, char **log_out)
{
    if (log_out)
        *log_out = NULL;
    size_t olen = url ? origin_len(url) : 0;
    if (olen && !log_out && olen == tl_memo.len && memcmp(url, tl_memo.origin, olen) == 0) {
        *is_https = tl_memo.https;
        *is_loopback = tl_memo.loopback;
        return 1;
    }
    CURLU *u = parse(url);
    if (!u)
        return 0;
    char *scheme = NULL;
    int ok = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && scheme;
    int https = ok && strcasecmp(scheme, "https") == 0;
    ok = ok && (https || strcasecmp(scheme, "http") == 0);
    curl_free(scheme);
    char *host = NULL;
    if (ok && (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host))
        ok = 0;
    *is_https = https;
    *is_loopback = ok && host_is_loopback(host);
    curl_free(host);
    if (ok && olen) {
        memcpy(tl_memo.origin, url, olen);
        tl_memo.len = olen;
        tl_memo.https = *is_https;
        tl_memo.loopback = *is_loopback;
    }
    if (ok && log_out) {
        *log_out = log_form(u);
        if (!*log_out)
            ok = -1;
    }
    curl_url_cleanup(u);
    return ok;
}

int fwt__url_is_loopback(const char *url)
{
    CURLU *u = parse(url);
    if (!u)
        return 0;
    char *host = NULL;
    int ok = curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host_is_loopback(host);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

char *fwt__url_for_log(const char *url)
{
    CURLU *u = parse(url);
    char *out = u ? log_form(u) : NULL;
    curl_url_cleanup(u);
    return out ? out : fwt__strdup("(invalid url)");
}

void fwt__url_host_port(const char *url, char *out, size_t n)
{
    snprintf(out, n, "(unknown host)");
    CURLU *u = parse(url);
    if (!u)
        return;
    char *host = NULL, *port = NULL;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port)
        snprintf(out, n, "%s:%s", host, port);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}
