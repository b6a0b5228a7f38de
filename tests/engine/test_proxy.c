/*
 * Proxy policy (README "Safety"): the API key never reaches a proxy.
 * A small forward + CONNECT proxy on 127.0.0.1 records every byte it is sent
 * and answers forwarded requests itself. With every proxy variable of the
 * environment pointing at it, plain-http requests must bypass it (the answer
 * comes from the real server); https requests may use it only as a CONNECT
 * tunnel, whose CONNECT request carries no API key; an explicit proxy with a
 * plain-http base URL is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "control_test_util.h"

#define KEY "proxy-test-key-SECRET-0123456789abcdef"

typedef struct proxy {
    int fd, port;
    pthread_t th;
    pthread_mutex_t mu;
    char seen[65536]; /* everything clients sent, NULs kept out */
    size_t seen_len;
    int connections, connects, forwards;
} proxy;

static void record(proxy *p, const char *buf, size_t n)
{
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < n && p->seen_len + 1 < sizeof p->seen; i++)
        p->seen[p->seen_len++] = buf[i] ? buf[i] : ' ';
    p->seen[p->seen_len] = '\0';
    pthread_mutex_unlock(&p->mu);
}

static int dial(const char *hostport)
{
    char host[128];
    int port = 0;
    if (sscanf(hostport, "%127[^:]:%d", host, &port) != 2)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Relay both ways until one side closes or 3 s pass quietly; record what the client sends. */
static void relay(proxy *p, int c, int t)
{
    struct pollfd fds[2] = {{.fd = c, .events = POLLIN}, {.fd = t, .events = POLLIN}};
    char buf[4096];
    while (poll(fds, 2, 3000) > 0) {
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0)
                return;
            if (i == 0)
                record(p, buf, (size_t)n);
            if (write(fds[1 - i].fd, buf, (size_t)n) != n)
                return;
        }
    }
}

static void serve(proxy *p, int c)
{
    struct timeval tv = {.tv_sec = 3};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char head[8192];
    size_t len = 0;
    while (len + 1 < sizeof head) {
        ssize_t n = read(c, head + len, sizeof head - 1 - len);
        if (n <= 0)
            break;
        record(p, head + len, (size_t)n);
        len += (size_t)n;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n"))
            break;
    }
    head[len] = '\0';
    if (!strncmp(head, "CONNECT ", 8)) {
        pthread_mutex_lock(&p->mu);
        p->connects++;
        pthread_mutex_unlock(&p->mu);
        char target[160] = "";
        sscanf(head + 8, "%159s", target);
        int t = dial(target);
        if (t < 0) {
            (void)!write(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", 47);
            return;
        }
        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        (void)!write(c, ok, sizeof ok - 1);
        relay(p, c, t);
        close(t);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->forwards++;
    pthread_mutex_unlock(&p->mu);
    /* A forwarding proxy that answers for the server: the client must never accept this. */
    static const char body[] = "{\"name\":\"accounts/acct/rlorTrainerJobs/from-proxy\",\"state\":\"JOB_STATE_RUNNING\"}";
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: "
                     "close\r\n\r\n%s",
                     sizeof body - 1, body);
    (void)!write(c, resp, (size_t)n);
}

static void *proxy_main(void *arg)
{
    proxy *p = arg;
    for (;;) {
        int c = accept(p->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* shutdown() by proxy_stop */
        pthread_mutex_lock(&p->mu);
        p->connections++;
        pthread_mutex_unlock(&p->mu);
        serve(p, c);
        close(c);
    }
}

static void proxy_start(proxy *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(p->fd, (struct sockaddr *)&a, &len);
    p->port = ntohs(a.sin_port);
    assert_int_equal(listen(p->fd, 16), 0);
    assert_int_equal(pthread_create(&p->th, NULL, proxy_main, p), 0);
}

static void proxy_stop(proxy *p)
{
    shutdown(p->fd, SHUT_RDWR);
    pthread_join(p->th, NULL);
    close(p->fd);
    pthread_mutex_destroy(&p->mu);
}

/* No piece of the key (8 bytes or more) anywhere in what the proxy saw. */
static void assert_no_key(const proxy *p)
{
    static const char key[] = KEY;
    const size_t klen = sizeof key - 1;
    for (size_t i = 0; i + 8 <= klen; i++)
        if (memmem(p->seen, p->seen_len, key + i, 8))
            fail_msg("the proxy saw key bytes at offset %zu:\n%s", i, p->seen);
    assert_null(strstr(p->seen, "X-Api-Key"));
    assert_null(strstr(p->seen, "Authorization"));
}

static const char *const proxy_vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                         "ALL_PROXY"};

static void env_proxies(const proxy *p)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", p->port);
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        setenv(proxy_vars[i], url, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
}

static void env_clear(void)
{
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
}

static fwt_client *client_for(const char *base, const char *proxy_opt, int *rc)
{
    fwt_client_options o = cfx_client_options(base, KEY);
    o.proxy = proxy_opt;
    o.unreachable_timeout_ms = 1500;
    fwt_client *c = NULL;
    *rc = fwt_client_new(&c, &o);
    return c;
}

/* Plain http with every proxy variable set: straight to the server, the proxy sees nothing. */
static void test_http_bypasses_env_proxies(void **state)
{
    (void)state;
    proxy p;
    proxy_start(&p);
    env_proxies(&p);
    fwt_responder *srv;
    assert_int_equal(fwt_responder_start(&srv, NULL, NULL), 0);
    fwt_resp_action a = {.content_type = "application/json",
                         .body = "{\"name\":\"accounts/acct/rlorTrainerJobs/from-server\",\"state\":\"JOB_STATE_RUNNING\"}"};
    fwt_responder_set_default(srv, &a);
    char *base = fwt_responder_url(srv, "");
    int rc;
    fwt_client *c = client_for(base, NULL, &rc);
    assert_int_equal(rc, FWT_OK);
    for (int i = 0; i < 3; i++) {
        fwt_job *j = NULL;
        assert_int_equal(fwt_job_get(&j, c, "from-server"), FWT_OK);
        assert_string_equal(fwt_job_id(j), "from-server"); /* the server's answer, not the proxy's */
        fwt_job_free(j);
    }
    fwt_client_free(c);
    assert_int_equal(fwt_responder_request_count(srv), 3);
    fwt_resp_request *q = fwt_responder_request_copy(srv, 0);
    assert_string_equal(fwt_resp_request_header(q, "X-Api-Key"), KEY); /* the server did get the key */
    fwt_resp_request_free(q);
    env_clear();
    proxy_stop(&p);
    assert_int_equal(p.connections, 0);
    assert_no_key(&p);
    free(base);
    fwt_responder_stop(srv);
}

/* https with the environment's proxy: only a CONNECT tunnel, whose request carries no key. */
static void test_https_only_through_connect(void **state)
{
    (void)state;
    proxy p;
    proxy_start(&p);
    env_proxies(&p);
    fwt_responder *srv; /* plain http behind the tunnel: the TLS handshake fails, after the CONNECT */
    assert_int_equal(fwt_responder_start(&srv, NULL, NULL), 0);
    char base[64];
    snprintf(base, sizeof base, "https://127.0.0.1:%d", fwt_responder_port(srv));
    int rc;
    fwt_client *c = client_for(base, NULL, &rc);
    assert_int_equal(rc, FWT_OK);
    fwt_job *j = NULL;
    rc = fwt_job_get(&j, c, "x");
    assert_true(rc == FWT_ETLS || rc == FWT_ECONNECT);
    fwt_client_free(c);
    env_clear();
    proxy_stop(&p);
    assert_true(p.connects >= 1);
    assert_int_equal(p.forwards, 0);
    char want[64];
    snprintf(want, sizeof want, "CONNECT 127.0.0.1:%d HTTP/1.1", fwt_responder_port(srv));
    assert_non_null(strstr(p.seen, want));
    assert_no_key(&p);
    fwt_responder_stop(srv);
}

/* The option: "" = no proxy even for https; a URL = that proxy (tunnel) and plain http refused. */
static void test_explicit_proxy_option(void **state)
{
    (void)state;
    proxy p;
    proxy_start(&p);
    env_proxies(&p);
    int rc;
    fwt_responder *srv;
    assert_int_equal(fwt_responder_start(&srv, NULL, NULL), 0);
    char https_base[64], proxy_url[64];
    snprintf(https_base, sizeof https_base, "https://127.0.0.1:%d", fwt_responder_port(srv));
    snprintf(proxy_url, sizeof proxy_url, "http://127.0.0.1:%d", p.port);

    /* "": the environment is ignored for https too */
    fwt_client *c = client_for(https_base, "", &rc);
    assert_int_equal(rc, FWT_OK);
    fwt_job *j = NULL;
    rc = fwt_job_get(&j, c, "x"); /* TLS to a plain-http server: fails there, directly */
    assert_true(rc == FWT_ETLS || rc == FWT_ECONNECT);
    assert_true(fwt_responder_connection_count(srv) >= 1);
    fwt_client_free(c);
    pthread_mutex_lock(&p.mu);
    assert_int_equal(p.connections, 0);
    pthread_mutex_unlock(&p.mu);

    /* an explicit proxy with a plain-http base URL is refused before any request */
    char *http_base = fwt_responder_url(srv, "");
    c = client_for(http_base, proxy_url, &rc);
    assert_int_equal(rc, FWT_EINVAL);
    assert_null(c);
    assert_non_null(strstr(fwt_error_last()->message, "clear text"));
    free(http_base);

    /* an explicit proxy for https: a CONNECT tunnel, no key */
    env_clear();
    c = client_for(https_base, proxy_url, &rc);
    assert_int_equal(rc, FWT_OK);
    rc = fwt_job_get(&j, c, "x");
    assert_true(rc == FWT_ETLS || rc == FWT_ECONNECT);
    fwt_client_free(c);
    proxy_stop(&p);
    assert_true(p.connects >= 1);
    assert_int_equal(p.forwards, 0);
    assert_no_key(&p);
    fwt_responder_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_bypasses_env_proxies),
        cmocka_unit_test(test_https_only_through_connect),
        cmocka_unit_test(test_explicit_proxy_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
