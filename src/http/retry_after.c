/*
 * Retry-After (RFC 9110 §10.2.3: delta-seconds or HTTP-date) and the
 * non-standard retry-after-ms (Stainless clients, docs/protocol.md §2.3).
 * An HTTP-date's value comes from libcurl's curl_getdate (locale-independent,
 * the parser curl itself uses for cookies and If-Modified-Since). curl_getdate
 * is lenient (it accepts "Sun, 06 Nov 1994" without a time, other zones, loose
 * word order), and a hint outside RFC 9110's three forms must fall back to
 * backoff, so a strict shape check runs first and curl only computes the time.
 */
#include <curl/curl.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/engine.h"

/* Anything beyond this is "a very long time"; keeps the arithmetic in range. */
#define FWT__RA_MAX_S INT64_C(100000000000)

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* True if s (after trailing blanks) is at its end. */
static int at_end(const char *s)
{
    return *skip_ws(s) == '\0';
}

/* Parse 1..max_digits decimal digits. Returns the next position or NULL. */
static const char *digits(const char *s, int min_digits, int max_digits, int64_t *out)
{
    int n = 0;
    int64_t v = 0;
    while (isdigit((unsigned char)*s) && n < max_digits) {
        v = v * 10 + (*s - '0');
        s++;
        n++;
    }
    if (n < min_digits || isdigit((unsigned char)*s))
        return NULL;
    *out = v;
    return s;
}

static int month_index(const char *s)
{
    static const char *const m[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strncmp(s, m[i], 3) == 0)
            return i;
    return -1;
}

static int day_name_len(const char *s)
{
    static const char *const shortn[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const longn[7] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};
    for (int i = 0; i < 7; i++) {
        size_t l = strlen(longn[i]);
        if (strncmp(s, longn[i], l) == 0)
            return (int)l;
    }
    for (int i = 0; i < 7; i++)
        if (strncmp(s, shortn[i], 3) == 0)
            return 3;
    return 0;
}

static const char *hms(const char *s, int64_t *h, int64_t *mi, int64_t *se)
{
    if (!(s = digits(s, 2, 2, h)) || *s++ != ':' || !(s = digits(s, 2, 2, mi)) || *s++ != ':' ||
        !(s = digits(s, 2, 2, se)))
        return NULL;
    if (*h > 23 || *mi > 59 || *se > 60)
        return NULL;
    return s;
}

/* True if s has the exact shape of an IMF-fixdate, RFC 850 or asctime date (RFC 9110 §5.6.7):
 * day and month names, digit counts, field ranges, separators and the GMT zone. */
static int http_date_shape(const char *s)
{
    int dl = day_name_len(s);
    if (!dl)
        return 0;
    s += dl;
    int64_t day, year, h, mi, se;
    int mon;
    if (*s == ',') {
        s++;
        if (*s++ != ' ')
            return 0;
        if (!(s = digits(s, 2, 2, &day)))
            return 0;
        if (*s == ' ') { /* IMF-fixdate: 06 Nov 1994 08:49:37 GMT */
            s++;
            if ((mon = month_index(s)) < 0)
                return 0;
            s += 3;
            if (*s++ != ' ' || !(s = digits(s, 4, 4, &year)))
                return 0;
        } else if (*s == '-') { /* RFC 850: 06-Nov-94 08:49:37 GMT */
            s++;
            if ((mon = month_index(s)) < 0)
                return 0;
            s += 3;
            if (*s++ != '-' || !(s = digits(s, 2, 2, &year)))
                return 0; /* curl_getdate puts 00-70 in this century, 71-99 in the last */
        } else {
            return 0;
        }
        if (*s++ != ' ' || !(s = hms(s, &h, &mi, &se)))
            return 0;
        if (strncmp(s, " GMT", 4) != 0 || !at_end(s + 4))
            return 0;
    } else if (*s == ' ') { /* asctime: Sun Nov  6 08:49:37 1994 */
        s++;
        if ((mon = month_index(s)) < 0)
            return 0;
        s += 3;
        if (*s++ != ' ')
            return 0;
        if (*s == ' ')
            s++;
        if (!(s = digits(s, 1, 2, &day)) || *s++ != ' ' || !(s = hms(s, &h, &mi, &se)) || *s++ != ' ' ||
            !(s = digits(s, 4, 4, &year)) || !at_end(s))
            return 0;
    } else {
        return 0;
    }
    (void)year;
    (void)mon;
    return day >= 1 && day <= 31;
}

/* HTTP-date → unix seconds; -1 on error: the shape checked here, the value computed by libcurl. */
static int64_t parse_http_date(const char *s)
{
    if (!http_date_shape(s))
        return -1;
    time_t t = curl_getdate(s, NULL);
    return t < 0 ? -1 : (int64_t)t;
}

int64_t fwt__parse_retry_after(const char *value, int64_t now_unix_s)
{
    if (!value)
        return -1;
    const char *s = skip_ws(value);
    if (isdigit((unsigned char)*s)) {
        int64_t v = 0;
        while (isdigit((unsigned char)*s)) {
            if (v < FWT__RA_MAX_S)
                v = v * 10 + (*s - '0');
            s++;
        }
        if (!at_end(s))
            return -1;
        if (v > FWT__RA_MAX_S)
            v = FWT__RA_MAX_S;
        return v * 1000;
    }
    int64_t t = parse_http_date(s);
    if (t < 0)
        return -1;
    int64_t d = t - now_unix_s;
    if (d < 0)
        return 0; /* a date in the past means "now" */
    if (d > FWT__RA_MAX_S)
        d = FWT__RA_MAX_S;
    return d * 1000;
}

int64_t fwt__parse_retry_after_ms(const char *value)
{
    if (!value)
        return -1;
    const char *s = skip_ws(value);
    if (!isdigit((unsigned char)*s))
        return -1;
    int64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v < FWT__RA_MAX_S * 1000)
            v = v * 10 + (*s - '0');
        s++;
    }
    if (*s == '.') { /* Stainless sends a float; round up the fraction */
        s++;
        int any = 0;
        while (isdigit((unsigned char)*s)) {
            any |= *s != '0';
            s++;
        }
        v += any;
    }
    if (!at_end(s))
        return -1;
    return v > FWT__RA_MAX_S * 1000 ? FWT__RA_MAX_S * 1000 : v;
}
