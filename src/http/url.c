/*
 * URL checks. They use libcurl's own URL parser so the host we judge is the
 * host curl will connect to (no parser differential to exploit).
 */
#include <arpa/inet.h>
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

static int scheme_is(CURLU *u, const char *want)
{
    char *s = NULL;
    int ok = curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK && s && strcasecmp(s, want) == 0;
    curl_free(s);
    return ok;
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

int fwt__url_inspect(const char *url, int *is_https, int *is_loopback, char **log_out)
{
    *log_out = NULL;
    CURLU *u = parse(url);
    if (!u)
        return 0;
    int https = scheme_is(u, "https");
    int ok = https || scheme_is(u, "http");
    char *host = NULL;
    if (ok && (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host))
        ok = 0;
    *is_https = https;
    *is_loopback = ok && host_is_loopback(host);
    curl_free(host);
    if (ok) {
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
