/*
 * URL handling: the engine's checks (src/http/url.c: scheme/host/loopback, the log form, the
 * per-thread origin memo) and the request builder's escaping and joining (src/core/url.c).
 * The input is two URLs separated by the first '\n' (the second may be empty); its last line
 * doubles as a path segment. Properties:
 *  - the log form never carries userinfo, a query or a fragment (they can hold secrets);
 *  - the memoised fast path of fwt__url_inspect answers like a fresh parse, whatever URL
 *    primed the memo;
 *  - an escaped segment is only unreserved characters and %XX, never "." or "..".
 */
#include "fuzz.h"

#include "core/request.h"
#include "http/engine.h"
#include "http/engine_int.h"

static void check_log_form(const char *log)
{
    if (!log || strcmp(log, "(invalid url)") == 0)
        return;
    FUZZ_CHECK(!strchr(log, '?') && !strchr(log, '#'));
    const char *rest = strstr(log, "://");
    if (rest) {
        rest += 3;
        size_t authority = strcspn(rest, "/");
        FUZZ_CHECK(!memchr(rest, '@', authority));
    }
}

static void check_url(const char *url)
{
    int https = -1, loop = -1;
    char *log = NULL;
    int ok = fwt__url_inspect(url, &https, &loop, &log);
    FUZZ_CHECK(ok == 0 || ok == 1 || ok == -1);
    if (ok == 1) {
        FUZZ_CHECK(log != NULL);
        check_log_form(log);
        /* the memo now holds this origin: the fast path must agree */
        int https2 = -1, loop2 = -1;
        FUZZ_CHECK(fwt__url_inspect(url, &https2, &loop2, NULL) == 1);
        FUZZ_CHECK(https2 == https && loop2 == loop);
        FUZZ_CHECK(fwt__url_is_loopback(url) == loop);
    }
    fwt__free_mem(log);
    char *l2 = fwt__url_for_log(url);
    FUZZ_CHECK(l2 != NULL);
    check_log_form(l2);
    fwt__free_mem(l2);
}

static void check_escape(const char *seg)
{
    char *e = fwt__url_escape(seg);
    FUZZ_CHECK(e != NULL);
    FUZZ_CHECK(strcmp(e, ".") != 0 && strcmp(e, "..") != 0);
    for (const char *p = e; *p; p++) {
        if (*p == '%') {
            FUZZ_CHECK(strchr("0123456789ABCDEF", p[1]) && p[1] && strchr("0123456789ABCDEF", p[2]) && p[2]);
            p += 2;
        } else {
            FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", *p));
        }
    }
    fwt__free_mem(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char *nl = strchr(s, '\n');
    char *second = "";
    if (nl) {
        *nl = '\0';
        second = nl + 1;
    }
    check_url(s);
    /* second URL: first through whatever memo the first one left */
    int https = -1, loop = -1, https2 = -1, loop2 = -1;
    int fast = fwt__url_inspect(second, &https, &loop, NULL);
    char *log = NULL;
    int fresh = fwt__url_inspect(second, &https2, &loop2, &log);
    FUZZ_CHECK((fast == 1) == (fresh == 1 || fresh == -1));
    if (fast == 1 && fresh == 1)
        FUZZ_CHECK(https == https2 && loop == loop2);
    fwt__free_mem(log);
    check_url(second);

    check_escape(second);
    char *j = fwt__url_join(s, "/v1/accounts/%s/x/%d?q=%lld%%", second, 7, 9LL);
    FUZZ_CHECK(j != NULL);
    fwt__free_mem(j);
    free(s);
    return 0;
}
