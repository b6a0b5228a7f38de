/* fwtrain-local's event-driven HTTP/1.1 front (server/front.c), spoken to over raw sockets: what libcurl never
 * sends on its own (pipelined requests, a chunked body, Expect: 100-continue, oversized or malformed heads,
 * HTTP/1.0, Connection: close, a client that reads its answers late). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "h1-key"
#define WAIT_MS 20000 /* per read: generous, a loaded machine is slow but never this slow */

static fwt_local_server *srv;
static const char *base;

static int setup(void **state)
{
    (void)state;
    static const char *args[] = {"--max-body-mib", "1", "--job-start-ms", "0", "--http-threads", "2", NULL};
    return srv_group_setup(&srv, &base, KEY, args);
}

static int teardown(void **state)
{
    (void)state;
    return srv_group_teardown(srv);
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fwt_local_server_port(srv))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(k > 0);
        p += k;
        n -= (size_t)k;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* A connection's unread input. */
typedef struct rd {
    char buf[1 << 16];
    size_t have;
    bool eof;
} rd;

/* Reads more; false on EOF or after WAIT_MS without a byte. */
static bool fill(int fd, rd *r)
{
    if (r->have == sizeof r->buf)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, WAIT_MS) <= 0)
        return false;
    ssize_t k = recv(fd, r->buf + r->have, sizeof r->buf - r->have, 0);
    if (k <= 0) {
        r->eof = true;
        return false;
    }
    r->have += (size_t)k;
    return true;
}

/* One response off the front of r: its status (0: none came), its head and body copied out (NUL-terminated). */
static int response(int fd, rd *r, char *head, size_t hcap, char *body, size_t bcap)
{
    for (;;) {
        char *end = memmem(r->buf, r->have, "\r\n\r\n", 4);
        if (end) {
            size_t hl = (size_t)(end + 4 - r->buf), cl = 0;
            char *h = memmem(r->buf, hl, "\r\nContent-Length: ", 18);
            if (h)
                cl = strtoul(h + 18, NULL, 10);
            if (r->have >= hl + cl) {
                int st = 0;
                sscanf(r->buf, "HTTP/1.1 %d", &st);
                snprintf(head, hcap, "%.*s", (int)hl, r->buf);
                snprintf(body, bcap, "%.*s", (int)cl, r->buf + hl);
                memmove(r->buf, r->buf + hl + cl, r->have - hl - cl);
                r->have -= hl + cl;
                return st;
            }
        }
        if (!fill(fd, r))
            return 0;
    }
}

/* The server closes the connection (EOF) without sending anything more. */
static bool closes(int fd, rd *r)
{
    size_t before = r->have;
    while (fill(fd, r))
        ;
    return r->eof && r->have == before;
}

#define GET_ACCOUNT "GET /v1/accounts/local HTTP/1.1\r\nHost: t\r\nX-Api-Key: " KEY "\r\n\r\n"

/* Two requests in one write are answered in order on the same connection; a %-escaped path is decoded. */
static void test_pipelined_and_escaped(void **state)
{
    (void)state;
    int fd = dial();
    rd r = {0};
    char head[2048], body[4096];
    send_str(fd, GET_ACCOUNT "GET /v1/accounts/%6cocal HTTP/1.1\r\nHost: t\r\nX-Api-Key: " KEY "\r\n\r\n"
                             "GET /v1/accounts/nobody HTTP/1.1\r\nHost: t\r\nX-Api-Key: " KEY "\r\n\r\n");
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    assert_non_null(strstr(body, "accounts/local"));
    assert_non_null(strstr(head, "Content-Type: application/json"));
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    assert_non_null(strstr(body, "accounts/local"));
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 404);
    assert_non_null(strstr(body, "nobody"));
    close(fd);
}

/* A chunked body (split across writes, with an extension and a trailer) reaches the handler whole. */
static void test_chunked_body(void **state)
{
    (void)state;
    int fd = dial();
    rd r = {0};
    char head[2048], body[8192];
    send_str(fd, "POST /v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=h1-chunked HTTP/1.1\r\nHost: t\r\n"
                 "X-Api-Key: " KEY "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "10\r\n{\"trainingConfig\r\n"); /* 16 bytes */
    send_str(fd, "2F;ext=1\r\n\":{\"baseModel\":\"accounts/fireworks/models/byte\"\r\n"); /* 47 */
    send_str(fd, "1\r\n}\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n" GET_ACCOUNT);
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    assert_non_null(strstr(body, "accounts/fireworks/models/byte"));
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200); /* the request behind it */
    assert_non_null(strstr(body, "accounts/local"));
    /* a malformed chunk size is 400, and the connection closes */
    send_str(fd, "POST /v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=h1-bad HTTP/1.1\r\nHost: t\r\n"
                 "X-Api-Key: " KEY "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 400);
    assert_true(closes(fd, &r));
    close(fd);
}

/* Expect: 100-continue is answered before the body is sent; a declared body over the limit is 413 at once. */
static void test_expect_continue_and_413(void **state)
{
    (void)state;
    int fd = dial();
    rd r = {0};
    char head[2048], body[4096];
    const char *json = "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\"}}";
    char req[1024];
    snprintf(req, sizeof req,
             "POST /v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=h1-expect HTTP/1.1\r\nHost: t\r\n"
             "X-Api-Key: " KEY "\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
             strlen(json));
    send_str(fd, req);
    assert_true(fill(fd, &r));
    assert_true(r.have >= 25 && !memcmp(r.buf, "HTTP/1.1 100 Continue\r\n\r\n", 25));
    memmove(r.buf, r.buf + 25, r.have - 25);
    r.have -= 25;
    send_str(fd, json);
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    assert_non_null(strstr(body, "h1-expect"));
    /* 2 MiB declared, --max-body-mib 1: refused before any of it is sent */
    send_str(fd, "POST /v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=h1-big HTTP/1.1\r\nHost: t\r\n"
                 "X-Api-Key: " KEY "\r\nExpect: 100-continue\r\nContent-Length: 2097152\r\n\r\n");
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 413);
    assert_non_null(strstr(head, "Connection: close"));
    close(fd);
}

/* Heads up to 16 KiB are served, longer ones are 431; a malformed request line is 400; both close. */
static void test_head_limits(void **state)
{
    (void)state;
    char head[2048], body[4096];
    size_t pad = 12 * 1024;
    char *big = malloc(pad + 256);
    assert_non_null(big);
    memset(big, 'a', pad);
    big[pad] = 0;
    char *req = malloc(pad + 512);
    assert_non_null(req);
    snprintf(req, pad + 512, "GET /v1/accounts/local HTTP/1.1\r\nHost: t\r\nX-Api-Key: " KEY "\r\nX-Pad: %s\r\n\r\n",
             big);
    int fd = dial();
    rd r = {0};
    send_str(fd, req);
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    close(fd);
    /* 20 KiB of one header */
    free(big);
    free(req);
    pad = 20 * 1024;
    big = malloc(pad + 1);
    req = malloc(pad + 512);
    assert_non_null(big);
    assert_non_null(req);
    memset(big, 'a', pad);
    big[pad] = 0;
    snprintf(req, pad + 512, "GET /v1/accounts/local HTTP/1.1\r\nHost: t\r\nX-Api-Key: " KEY "\r\nX-Pad: %s\r\n\r\n",
             big);
    fd = dial();
    memset(&r, 0, sizeof r);
    send_str(fd, req);
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 431);
    assert_true(closes(fd, &r));
    close(fd);
    free(big);
    free(req);
    static const char *bad[] = {"GET /v1/accounts/local HTTP/9.9\r\nHost: t\r\n\r\n",
                                "GET  /v1/accounts/local HTTP/1.1\r\nHost: t\r\n\r\n",
                                "GET /v1/accounts/local HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n",
                                "GET /v1/accounts/local HTTP/1.1\r\nHost : t\r\n\r\n",
                                "GET /v1/accounts/local HTTP/1.1\r\nX-Api-Key: " KEY "\r\n\r\n", /* no Host */
                                ("POST /v1/accounts/local HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                                 "Content-Length: 2\r\n\r\n")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = dial();
        memset(&r, 0, sizeof r);
        send_str(fd, bad[i]);
        assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 400);
        assert_true(closes(fd, &r));
        close(fd);
    }
}

/* HTTP/1.0 and Connection: close get their answer, then the server closes; HEAD gets no body. */
static void test_close_and_http10(void **state)
{
    (void)state;
    char head[2048], body[4096];
    int fd = dial();
    rd r = {0};
    send_str(fd, "GET /v1/accounts/local HTTP/1.0\r\nX-Api-Key: " KEY "\r\n\r\n");
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    assert_non_null(strstr(body, "accounts/local"));
    assert_true(closes(fd, &r));
    close(fd);
    fd = dial();
    memset(&r, 0, sizeof r);
    send_str(fd, "GET /v1/accounts/local HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Api-Key: " KEY "\r\n\r\n");
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    assert_non_null(strstr(head, "Connection: close"));
    assert_true(closes(fd, &r));
    close(fd);
    fd = dial();
    memset(&r, 0, sizeof r);
    send_str(fd, "HEAD /v1/accounts/local HTTP/1.1\r\nHost: t\r\nX-Api-Key: " KEY "\r\n\r\n" GET_ACCOUNT);
    /* the HEAD answer declares a length but carries no body: the next bytes are the GET's answer */
    assert_true(fill(fd, &r));
    while (!memmem(r.buf, r.have, "\r\n\r\n", 4))
        assert_true(fill(fd, &r));
    char *end = memmem(r.buf, r.have, "\r\n\r\n", 4);
    size_t hl = (size_t)(end + 4 - r.buf);
    assert_int_equal(strncmp(r.buf, "HTTP/1.1 ", 9), 0);
    memmove(r.buf, r.buf + hl, r.have - hl);
    r.have -= hl;
    assert_int_equal(response(fd, &r, head, sizeof head, body, sizeof body), 200);
    assert_non_null(strstr(body, "accounts/local"));
    close(fd);
}

/* 40,000 pipelined requests sent without reading: the answers back up in the socket (the server must wait for
 * the client, keep its place and go on), and every one arrives, in order, once the client reads. */
static void test_slow_reader(void **state)
{
    (void)state;
    enum { N = 40000 };
    static const char one[] = GET_ACCOUNT;
    size_t rl = sizeof one - 1, total = rl * N;
    char *out = malloc(total);
    assert_non_null(out);
    for (int i = 0; i < N; i++)
        memcpy(out + (size_t)i * rl, one, rl);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int small = 4096; /* (before connect: no window autotuning, so the answers cannot all fit in flight) */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fwt_local_server_port(srv))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    rd *r = calloc(1, sizeof *r);
    assert_non_null(r);
    size_t sent = 0;
    int answered = 0;
    bool reading = false; /* first only write, until the connection is full both ways */
    while (answered < N) {
        struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (sent < total ? POLLOUT : 0))};
        assert_true(poll(&p, 1, reading ? WAIT_MS : 500) >= 0);
        if (p.revents & POLLOUT) {
            ssize_t k = send(fd, out + sent, total - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            assert_true(k > 0 || errno == EAGAIN);
            if (k > 0) {
                sent += (size_t)k;
                if (!reading)
                    continue;
            }
        }
        if (!reading) {
            /* everything is sent or no room is left: let the answers back up until the server has to wait for
             * us (the queue stops growing), so its half-sent answer path runs; the result is the same either way */
            int q = -1, last = -2;
            for (int i = 0; i < 50 && q != last; i++) {
                last = q;
                usleep(100 * 1000);
                if (ioctl(fd, FIONREAD, &q) != 0)
                    break;
            }
        }
        reading = true;
        if (!(p.revents & POLLIN))
            continue;
        ssize_t k = recv(fd, r->buf + r->have, sizeof r->buf - r->have, MSG_DONTWAIT);
        assert_true(k > 0 || errno == EAGAIN);
        if (k > 0)
            r->have += (size_t)k;
        char *end;
        while ((end = memmem(r->buf, r->have, "\r\n\r\n", 4))) {
            size_t hl = (size_t)(end + 4 - r->buf);
            char *h = memmem(r->buf, hl, "\r\nContent-Length: ", 18);
            assert_non_null(h);
            size_t cl = strtoul(h + 18, NULL, 10);
            if (r->have < hl + cl)
                break;
            assert_int_equal(memcmp(r->buf, "HTTP/1.1 200", 12), 0);
            memmove(r->buf, r->buf + hl + cl, r->have - hl - cl);
            r->have -= hl + cl;
            answered++;
        }
    }
    assert_int_equal(sent, total);
    assert_int_equal(r->have, 0);
    close(fd);
    free(r);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_and_escaped), cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_expect_continue_and_413), cmocka_unit_test(test_head_limits),
        cmocka_unit_test(test_close_and_http10), cmocka_unit_test(test_slow_reader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
