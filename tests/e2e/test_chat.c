/* End-to-end: the real `cmlx chat` binary with stories260K.
 * - stdin piped (not a terminal): the [INFO] line and the help, one answer per query, 'h'
 *   prints the help again, an empty line is skipped, the conversation stays in the KV cache
 *   (a query after a story is answered differently from the same query after 'r', which
 *   answers as a new session does), 'q' quits with exit status 0;
 *   end of input also ends the session cleanly.
 * - under a pseudo-terminal (forkpty): Ctrl-C during a long answer (-m 2000) stops that
 *   answer but not the session: the ">> " prompt comes back and 'q' exits 0.
 * - the OpenMP environment (src/cli/runtime_env.h): a chat started without GOMP_SPINCOUNT /
 *   OMP_WAIT_POLICY runs (after re-running itself) with GOMP_SPINCOUNT=10000 in its
 *   environment; one started with GOMP_SPINCOUNT=1234 keeps 1234. Read from
 *   /proc/PID/environ once the session has printed its [INFO] line.
 * Every wait has a deadline; a stuck child is killed.
 * usage: test_chat CMLX_BINARY SHARED_DIR */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "util/strbuf.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Waits for the child for at most `timeout` seconds, killing it after; its exit code, or -1
 * when it did not exit normally (or had to be killed). */
static int wait_child(pid_t pid, double timeout) {
    double end = now_s() + timeout;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0) return -1;
        if (now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fprintf(stderr, "child %d killed after %.0f s\n", (int)pid, timeout);
            return -1;
        }
        usleep(10000);
    }
}

/* Starts argv with stdin from a pipe (its write end in *to_child) and stdout+stderr into
 * another (its read end in *from_child). spincount: the child's GOMP_SPINCOUNT (NULL: unset,
 * with OMP_WAIT_POLICY unset too), or KEEP_ENV for the environment as it is. -1 on failure. */
static const char KEEP_ENV[] = "";
static pid_t spawn_piped(char *const argv[], const char *spincount, int *to_child, int *from_child) {
    int in[2], outp[2];
    if (pipe(in) || pipe(outp)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        if (spincount != KEEP_ENV) {
            unsetenv("OMP_WAIT_POLICY");
            if (spincount) setenv("GOMP_SPINCOUNT", spincount, 1);
            else unsetenv("GOMP_SPINCOUNT");
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    *to_child = in[1];
    *from_child = outp[0];
    return pid;
}

/* Runs argv with `input` on stdin (a pipe) and collects stdout+stderr, within timeout s. */
static int run_piped(char *const argv[], const char *input, strbuf *out, double timeout) {
    int to, from;
    pid_t pid = spawn_piped(argv, KEEP_ENV, &to, &from);
    if (pid < 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    size_t len = strlen(input), off = 0;
    double end = now_s() + timeout;
    fcntl(to, F_SETFL, O_NONBLOCK);
    int open_in = 1;
    for (;;) {
        if (open_in && off == len) {
            close(to);
            open_in = 0;
        }
        struct pollfd fds[2] = {{from, POLLIN, 0}, {open_in ? to : -1, POLLOUT, 0}};
        int r = poll(fds, 2, 100);
        if (r < 0 && errno != EINTR) break;
        if (fds[1].revents & (POLLOUT | POLLERR)) {
            ssize_t w = write(to, input + off, len - off);
            if (w > 0) off += (size_t)w;
            else if (w < 0 && errno != EAGAIN) off = len;
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            char buf[4096];
            ssize_t n = read(from, buf, sizeof buf);
            if (n <= 0) break;
            strbuf_append(out, buf, (size_t)n);
        }
        if (now_s() > end) break;
    }
    if (open_in) close(to);
    close(from);
    return wait_child(pid, end - now_s() > 1 ? end - now_s() : 1);
}

/* The answers in a piped session's output: the text after each ">> " prompt up to the next
 * newline (an empty query is skipped without an answer, so its prompt is followed directly
 * by the next prompt). Returns the count; answers are malloc'd. */
static int split_answers(const char *out, char **ans, int max) {
    int n = 0;
    const char *p = out;
    while ((p = strstr(p, ">> ")) && n < max) {
        p += 3;
        if (!*p) break;                      /* the prompt that read 'q' */
        if (!strncmp(p, ">> ", 3)) continue; /* empty query */
        const char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        ans[n++] = strndup(p, (size_t)(e - p));
        p = e;
    }
    return n;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_piped(const char *bin, const char *model) {
    char *argv[] = {(char *)bin, "chat", "--model", (char *)model, "-m", "20", NULL};
    strbuf out = STRBUF_INIT;
    const char *input = "Once upon a time\nh\nThe dog\n\nr\nThe dog\nq\nnot read\n";
    int rc = run_piped(argv, input, &out, 120);
    const char *o = out.data ? out.data : "";
    CHECK_MSG(rc == 0, "chat exit %d, output:\n%s", rc, o);
    char info[4200];
    snprintf(info, sizeof info, "[INFO] Starting chat session with %s.\n", model);
    CHECK_MSG(!strncmp(o, info, strlen(info)), "first line: %.200s", o);
    const char *help = "The command list:\n- 'q' to exit\n- 'r' to reset the chat\n- 'h' to display these commands\n";
    CHECK_MSG(count(o, help) == 2, "help printed %d times (want 2: at start and for 'h')", count(o, help));
    CHECK(!strncmp(o + strlen(info), help, strlen(help)));
    char *ans[8] = {0};
    int n = split_answers(o, ans, 8);
    /* three queries answered; 'h' shows the help, the empty line and 'r' print nothing */
    CHECK_MSG(n == 4, "%d answers in:\n%s", n, o);
    if (n == 4) {
        CHECK_MSG(!strncmp(ans[0], ", there was a little girl named Lily", 36), "answer 1: [%s]", ans[0]);
        CHECK_MSG(!strncmp(ans[1], help, strlen("The command list:")), "'h' answer: [%s]", ans[1]);
        /* the conversation is kept in the cache: "The dog" after the story continues
         * differently from "The dog" after 'r' */
        CHECK_MSG(strcmp(ans[2], ans[3]) != 0, "'The dog' answered the same with and without history: [%s]", ans[2]);
        /* after 'r' the conversation starts over: as a session whose first query it is */
        char *first_argv[] = {(char *)bin, "chat", "--model", (char *)model, "-m", "20", NULL};
        strbuf fresh = STRBUF_INIT;
        int frc = run_piped(first_argv, "The dog\n", &fresh, 60);
        char *fa[2] = {0};
        int nf = frc == 0 && fresh.data ? split_answers(fresh.data, fa, 2) : 0; /* 2nd: the prompt at EOF */
        CHECK_MSG(nf >= 1 && !strcmp(fa[0], ans[3]), "after reset: [%s] vs a new session: [%s]", ans[3],
                  nf ? fa[0] : "");
        for (int i = 0; i < nf; i++) free(fa[i]);
        strbuf_free(&fresh);
    }
    CHECK_MSG(!strstr(o, "not read"), "input after 'q' was used");
    for (int i = 0; i < n; i++) free(ans[i]);
    strbuf_free(&out);

    /* end of input (no 'q') ends the session with status 0 too */
    strbuf out2 = STRBUF_INIT;
    rc = run_piped(argv, "Once upon a time\n", &out2, 60);
    CHECK_MSG(rc == 0 && out2.data && strstr(out2.data, ", there was a little girl"), "EOF: exit %d: %s", rc,
              out2.data ? out2.data : "");
    strbuf_free(&out2);

    /* bad use: clear message, non-zero exit */
    char *bad[] = {(char *)bin, "chat", NULL};
    strbuf out3 = STRBUF_INIT;
    rc = run_piped(bad, "", &out3, 30);
    CHECK(rc != 0 && out3.data && strstr(out3.data, "--model is required"));
    strbuf_free(&out3);
}

/* Reads from the pty into out until `needle` appears after byte `from`, or the deadline. */
static int pty_wait_for(int fd, strbuf *out, size_t from, const char *needle, double timeout) {
    double end = now_s() + timeout;
    for (;;) {
        if (out->data && out->len > from && strstr(out->data + from, needle)) return 1;
        if (now_s() > end) return 0;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) > 0) {
            char buf[4096];
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) return 0; /* EIO: the child closed the terminal */
            strbuf_append(out, buf, (size_t)n);
        }
    }
}

/* Bytes of the uninterrupted answer to "Once upon a time" with -m 2000 (piped). */
static size_t full_long_answer(const char *bin, const char *model) {
    char *argv[] = {(char *)bin, "chat", "--model", (char *)model, "-m", "2000", NULL};
    strbuf out = STRBUF_INIT;
    int rc = run_piped(argv, "Once upon a time\nq\n", &out, 240);
    /* the answer has newlines: it runs from the first prompt to the one that reads 'q' */
    const char *p1 = rc == 0 && out.data ? strstr(out.data, ">> ") : NULL;
    const char *p2 = p1 ? strstr(p1 + 3, ">> ") : NULL;
    size_t len = p2 ? (size_t)(p2 - p1 - 3) : 0;
    strbuf_free(&out);
    return len;
}

static void test_pty_interrupt(const char *bin, const char *model) {
    /* Without Ctrl-C the -m 2000 answer is long (no EOS ends it early: ~1.5 s of tokens in
     * the release build), so an answer shorter than it proves that Ctrl-C stopped it. (A
     * -m 300 answer took ~0.2 s: a Ctrl-C sent after "there was" sometimes landed after it.) */
    size_t full = full_long_answer(bin, model);
    CHECK_MSG(full > 2000, "the uninterrupted -m 2000 answer has only %zu bytes", full);
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    if (pid < 0) {
        printf("SKIPPED: forkpty failed (%s): no Ctrl-C test\n", strerror(errno));
        return;
    }
    if (pid == 0) {
        execl(bin, bin, "chat", "--model", model, "-m", "2000", (char *)NULL);
        _exit(127);
    }
    strbuf out = STRBUF_INIT;
    int ok = pty_wait_for(fd, &out, 0, ">> ", 60);
    CHECK_MSG(ok, "no prompt under a terminal: [%s]", out.data ? out.data : "");
    if (ok) {
        size_t mark = out.len;
        CHECK(write(fd, "Once upon a time\r", 17) == 17);
        /* wait for the answer to be under way, then Ctrl-C */
        ok = pty_wait_for(fd, &out, mark, "there was", 60);
        CHECK_MSG(ok, "no answer: [%s]", out.data + mark);
        double t_int = now_s();
        CHECK(write(fd, "\x03", 1) == 1);
        size_t after = out.len;
        ok = pty_wait_for(fd, &out, after, ">> ", 60);
        double took = now_s() - t_int;
        CHECK_MSG(ok, "the prompt did not come back after Ctrl-C: [%s]", out.data + mark);
        if (ok) {
            /* the answer stopped early (the pty echoes the query, and shows ^C) */
            size_t answer_len = (size_t)(strstr(out.data + after, ">> ") - (out.data + mark));
            /* Any answer shorter than the uninterrupted one was cut by Ctrl-C; under load the
             * signal may land a while after it was sent, so the bound is the whole answer
             * rather than half of it. */
            CHECK_MSG(answer_len < full, "answer of %zu bytes despite Ctrl-C (%.2f s; 2000 tokens: %zu)",
                      answer_len, took, full);
            printf("  Ctrl-C: answer stopped after %zu bytes (2000 tokens: %zu), prompt back in %.3f s\n", answer_len,
                   full, took);
            CHECK(write(fd, "q\r", 2) == 2);
        }
    }
    /* drain until the child closes the terminal, then its status */
    pty_wait_for(fd, &out, out.len, "\x01never", 30);
    int rc = wait_child(pid, 30);
    CHECK_MSG(rc == 0, "chat under a terminal: exit %d, output:\n%s", rc, out.data ? out.data : "");
    close(fd);
    strbuf_free(&out);
}

/* The GOMP_SPINCOUNT entry of a live chat session started with `spincount` (NULL: unset)
 * into got (empty when absent); returns 0 once the session printed its [INFO] line. */
static int chat_spincount(const char *bin, const char *model, const char *spincount, char *got, size_t cap) {
    int to, from;
    got[0] = 0;
    char *argv[] = {(char *)bin, "chat", "--model", (char *)model, "-m", "4", NULL};
    pid_t pid = spawn_piped(argv, spincount, &to, &from);
    if (pid < 0) return -1;
    strbuf out = {0};
    double end = now_s() + 30;
    int ready = 0;
    while (!ready && now_s() < end) {
        struct pollfd fd = {from, POLLIN, 0};
        if (poll(&fd, 1, 100) > 0) {
            char buf[4096];
            ssize_t n = read(from, buf, sizeof buf);
            if (n <= 0) break;
            strbuf_append(&out, buf, (size_t)n);
            ready = out.data && strstr(out.data, "[INFO] Starting chat session") != NULL;
        }
    }
    if (ready) {
        char path[64], env[65536];
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(env, 1, sizeof env - 1, f) : 0;
        if (f) fclose(f);
        env[n] = 0;
        for (size_t i = 0; i < n; i += strlen(env + i) + 1)
            if (!strncmp(env + i, "GOMP_SPINCOUNT=", 15)) snprintf(got, cap, "%s", env + i + 15);
    }
    close(to); /* end of input: the session ends */
    close(from);
    wait_child(pid, 30);
    strbuf_free(&out);
    return ready ? 0 : -1;
}

static void test_runtime_env(const char *bin, const char *model) {
    char got[64];
    CHECK_MSG(chat_spincount(bin, model, NULL, got, sizeof got) == 0, "chat session did not start");
    CHECK_MSG(!strcmp(got, "10000"), "GOMP_SPINCOUNT in the session: '%s', want 10000", got);
    CHECK_MSG(chat_spincount(bin, model, "1234", got, sizeof got) == 0, "chat session did not start");
    CHECK_MSG(!strcmp(got, "1234"), "GOMP_SPINCOUNT set by the user: '%s', want 1234 kept", got);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_chat CMLX_BINARY SHARED_DIR\n");
        return 2;
    }
    char model[4096];
    snprintf(model, sizeof model, "%s/models/stories260K", argv[2]);
    struct stat st;
    if (stat(model, &st) != 0) {
        printf("SKIPPED: %s not found: no chat end-to-end test\n", model);
        return 0;
    }
    test_piped(argv[1], model);
    test_pty_interrupt(argv[1], model);
    test_runtime_env(argv[1], model);
    return test_finish();
}
