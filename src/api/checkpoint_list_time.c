/*
 * Timestamps and names of listed checkpoints: createTime mixes second and
 * sub-second precision, so rows are ordered by parsed time, never by string
 * (docs/protocol.md §3.5, §9, §11.5); session suffixes are stripped with
 * `-[0-9a-f]{8}$` (docs/protocol.md §6).
 */
#include <string.h>

#include "fwt_util.h"
#include "fwtrain/checkpoint_list.h"

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int fwt_checkpoint_parse_time(int64_t *out_us, const char *s)
{
    if (!out_us || !s)
        return fwt__last_set(FWT_EINVAL, "out_us and timestamp are required");
    int Y, M, D, h, m, sec;
    size_t n = strlen(s);
    if (n < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' || !digits(s + 8, 2, &D) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &m) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return fwt__last_set(FWT_EINVAL, "unparseable timestamp \"%.64s\"", s);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
        return fwt__last_set(FWT_EINVAL, "timestamp out of range \"%.64s\"", s);
    const char *p = s + 19;
    int64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        int64_t scale = 100000;
        while (*p >= '0' && *p <= '9') {
            if (nd < 6) {
                frac_us += (*p - '0') * scale;
                scale /= 10;
            }
            nd++;
            p++;
        }
        if (nd == 0)
            return fwt__last_set(FWT_EINVAL, "unparseable timestamp \"%.64s\"", s);
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return fwt__last_set(FWT_EINVAL, "unparseable timestamp offset \"%.64s\"", s);
        offset_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return fwt__last_set(FWT_EINVAL, "timestamp without a zone \"%.64s\"", s);
    }
    if (*p)
        return fwt__last_set(FWT_EINVAL, "trailing characters in timestamp \"%.64s\"", s);
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - offset_s;
    *out_us = secs * 1000000 + frac_us;
    return FWT_OK;
}

int fwt_checkpoint_logical_name(char **out, const char *name)
{
    if (!out || !name)
        return fwt__last_set(FWT_EINVAL, "out and name are required");
    size_t n = strlen(name);
    size_t keep = n;
    if (n > 9 && name[n - 9] == '-') {
        int hex = 1;
        for (size_t i = n - 8; i < n; i++) {
            char c = name[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                hex = 0;
        }
        if (hex)
            keep = n - 9;
    }
    *out = fwt__strndup(name, keep);
    if (!*out)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    return FWT_OK;
}
