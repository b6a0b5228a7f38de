/*
 * Progress of the long waits (job readiness, deployment readiness and deletion,
 * hotload, promotion). The library reports a stage after each poll on its worker
 * thread (fwt_progress_fn, include/fwtrain/types.h); this module shows it:
 *   - stderr is a terminal: one live line, redrawn by the waiting thread every
 *     quarter second, so the elapsed time keeps moving between polls;
 *   - otherwise (logs, pipes, tests): one plain line per change of stage or message;
 *   - --quiet: nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_progress_init(cli_progress *p, const char *what)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->what, sizeof p->what, "%s", what);
    p->live = !cli_opts.quiet && isatty(STDERR_FILENO);
    p->start_ms = now_ms();
}

void cli_progress_destroy(cli_progress *p)
{
    pthread_mutex_destroy(&p->mu);
}

void cli_progress_fn(int stage, int64_t elapsed_ms, const char *message, void *payload)
{
    cli_progress *p = payload;
    pthread_mutex_lock(&p->mu);
    int changed = stage != p->stage || strcmp(message ? message : "", p->message) != 0;
    p->stage = stage;
    snprintf(p->message, sizeof p->message, "%s", message ? message : "");
    /* Plain mode prints here: the worker's elapsed time is the wait's own. */
    if (changed && !p->live && !cli_opts.quiet)
        fprintf(stderr, "fwtrain: %s: %s after %.1f s%s%s\n", p->what, fwt_progress_stage_name(stage),
                (double)elapsed_ms / 1000.0, p->message[0] ? ": " : "", p->message);
    pthread_mutex_unlock(&p->mu);
}

static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* Redraw the live line: carriage return, the text cut to the terminal width, erase to the end of the line. */
static void draw(cli_progress *p)
{
    char line[512];
    pthread_mutex_lock(&p->mu);
    double secs = (double)(now_ms() - p->start_ms) / 1000.0;
    snprintf(line, sizeof line, "fwtrain: %s: %s %.1f s%s%s", p->what,
             p->stage ? fwt_progress_stage_name(p->stage) : "waiting", secs, p->message[0] ? " - " : "", p->message);
    pthread_mutex_unlock(&p->mu);
    int cols = term_columns() - 1; /* never write the last column: some terminals wrap there */
    if ((int)strlen(line) > cols)
        line[cols] = '\0';
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
}

int cli_progress_wait(cli_progress *p, fwt_future *f)
{
    if (!p->live)
        return fwt_future_wait(f, -1);
    int rc;
    draw(p);
    while ((rc = fwt_future_wait(f, 250)) == FWT_ETIMEDOUT)
        draw(p);
    /* Leave one plain line behind, so the outcome shows how long the wait took. */
    if (p->drawn) {
        pthread_mutex_lock(&p->mu);
        double secs = (double)(now_ms() - p->start_ms) / 1000.0;
        const char *stage = p->stage ? fwt_progress_stage_name(p->stage) : "waiting";
        fprintf(stderr, "\r\033[Kfwtrain: %s: %s after %.1f s\n", p->what, stage, secs);
        pthread_mutex_unlock(&p->mu);
        fflush(stderr);
    }
    return rc;
}
