/* Allocation routed through the fwt_set_allocator hooks; cJSON shares them. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fwt_util.h"

static void *std_malloc(size_t n, void *ctx) { (void)ctx; return malloc(n); }
static void *std_realloc(void *p, size_t n, void *ctx) { (void)ctx; return realloc(p, n); }
static void std_free(void *p, void *ctx) { (void)ctx; free(p); }

static fwt_allocator g_alloc = {FWT_ALLOCATOR_VERSION, std_malloc, std_realloc, std_free, NULL};
static atomic_int g_live_clients;

void fwt__lib_client_added(void) { atomic_fetch_add(&g_live_clients, 1); }
void fwt__lib_client_removed(void) { atomic_fetch_sub(&g_live_clients, 1); }

void *fwt__malloc(size_t n) { return g_alloc.malloc_fn(n ? n : 1, g_alloc.ctx); }

void *fwt__calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    size_t n = count * size;
    void *p = fwt__malloc(n);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

void *fwt__realloc(void *p, size_t n) { return g_alloc.realloc_fn(p, n ? n : 1, g_alloc.ctx); }

void fwt__free_mem(void *p)
{
    if (p)
        g_alloc.free_fn(p, g_alloc.ctx);
}

void fwt_free(void *ptr) { fwt__free_mem(ptr); }

char *fwt__strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *d = fwt__malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *fwt__strdup(const char *s) { return s ? fwt__strndup(s, strlen(s)) : NULL; }

__attribute__((format(printf, 1, 0))) char *fwt__vasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *buf = fwt__malloc((size_t)n + 1);
    if (!buf)
        return NULL;
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    return buf;
}

char *fwt__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = fwt__vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void fwt__free_secret(char *s)
{
    if (!s)
        return;
    /* explicit_bzero: the optimiser may not drop it (docs/internals.md reliability §3). */
    explicit_bzero(s, strlen(s));
    fwt__free_mem(s);
}

static void *json_malloc(size_t n) { return fwt__malloc(n); }
static void json_free(void *p) { fwt__free_mem(p); }

/* 0: cJSON uses its defaults, 1: our hooks. Calls that change nothing do not touch cJSON's globals. */
static atomic_int g_hooks_custom;

void fwt__json_hooks_install(void)
{
    int want = g_alloc.malloc_fn != std_malloc;
    if (atomic_load(&g_hooks_custom) == want)
        return;
    if (want) {
        cJSON_Hooks h = {json_malloc, json_free};
        cJSON_InitHooks(&h);
    } else {
        cJSON_InitHooks(NULL); /* back to malloc/free (and realloc) */
    }
    atomic_store(&g_hooks_custom, want);
}

int fwt_set_allocator(const fwt_allocator *a)
{
    if (atomic_load(&g_live_clients) > 0)
        return fwt__last_set(FWT_ESTATE, "fwt_set_allocator: a client is alive; set the allocator before creating clients");
    if (!a) {
        g_alloc = (fwt_allocator){FWT_ALLOCATOR_VERSION, std_malloc, std_realloc, std_free, NULL};
        fwt__json_hooks_install();
        fwt__last_ok();
        return FWT_OK;
    }
    if (a->version != FWT_ALLOCATOR_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_set_allocator: unknown version %u", a->version);
    if (!a->malloc_fn || !a->realloc_fn || !a->free_fn)
        return fwt__last_set(FWT_EINVAL, "fwt_set_allocator: malloc_fn, realloc_fn and free_fn must all be set");
    g_alloc = *a;
    fwt__json_hooks_install();
    fwt__last_ok();
    return FWT_OK;
}
