/* `cmlx manage` end to end: models downloaded from a fake hub on 127.0.0.1 into a private
 * HF_HOME, then listed and deleted by the real cmlx binary (argv[1]); the y/N question
 * is answered through a pseudo-terminal. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmlx/lm_hub.h"
#include "fake_hub.h"
#include "hub_fixture.h"
#include "test.h"

#define TXT(s) (const unsigned char *)(s), sizeof(s) - 1
static unsigned char weights[12345];
static const fake_hub_file files[] = {
    {"config.json", TXT("{\"model_type\": \"qwen3\"}"), 0},
    {"model.safetensors", weights, sizeof weights, 1},
};
static const fake_hub_revision rev[] = {{"abababababababababababababababababababab", {"main", NULL}, files, 2}};
static const fake_hub_repo repos[] = {
    {"mlx-community/alpha-4bit", NULL, 0, rev, 1, NULL},
    {"mlx-community/beta-8bit", NULL, 0, rev, 1, NULL},
    {"other-org/gamma", NULL, 0, rev, 1, NULL},
};

static const char *cmlx;
static char out[65536], err[65536];

/* Runs `cmlx manage <args>` with stdin from /dev/null; stdout and stderr into out / err. */
static int run_manage(const char *const *args) {
    char out_path[] = "/tmp/cmlx-manage-out-XXXXXX", err_path[] = "/tmp/cmlx-manage-err-XXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    if (fo < 0 || fe < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0), dup2(fo, 1), dup2(fe, 2);
        const char *argv[16] = {cmlx, "manage"};
        size_t n = 2;
        for (size_t i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
        argv[n] = NULL;
        execv(cmlx, (char *const *)argv);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    close(fo), close(fe);
    size_t n;
    unsigned char *o = hub_fixture_read(out_path, &n), *e = hub_fixture_read(err_path, NULL);
    snprintf(out, sizeof out, "%s", o ? (char *)o : "");
    snprintf(err, sizeof err, "%s", e ? (char *)e : "");
    free(o), free(e);
    unlink(out_path), unlink(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs `cmlx manage --delete --pattern P` on a pseudo-terminal and types `answer` when
 * the question appears; the whole terminal output goes to out. */
static int errno_pty;  /* why forkpty failed, 0 when it worked */

static int run_manage_tty(const char *pattern, const char *answer) {
    int master;
    out[0] = '\0';
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0) {
        errno_pty = errno ? errno : ENODEV;
        return -1;
    }
    if (pid == 0) {
        execl(cmlx, cmlx, "manage", "--delete", "--pattern", pattern, (char *)NULL);
        _exit(127);
    }
    size_t n = 0;
    int answered = 0;
    time_t deadline = time(NULL) + 30;  /* bounded: a hung child fails the test */
    while (time(NULL) < deadline) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t r = read(master, out + n, sizeof out - 1 - n);
        if (r <= 0) break;  /* EIO: the child closed the terminal */
        n += (size_t)r;
        out[n] = '\0';
        if (!answered && strstr(out, "(y/N)")) {
            if (write(master, answer, strlen(answer)) < 0) break;
            answered = 1;
        }
    }
    close(master);
    int status = -1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/cmlx\n", argv[0]);
        return 2;
    }
    cmlx = argv[1];
    if (access(cmlx, X_OK) != 0) {
        CHECK_MSG(0, "the cmlx binary %s cannot be run: %s (did it build?)", cmlx, strerror(errno));
        return test_finish();
    }
    hub_fixture_fill(weights, sizeof weights, 3);
    const char *home = hub_fixture_home("hub-manage");
    fake_hub *hub = home ? fake_hub_start(repos, 3) : NULL;
    CHECK(hub != NULL);
    if (!hub) return test_finish();
    lm_hub_options o = {0};
    o.endpoint = fake_hub_endpoint(hub);
    for (size_t i = 0; i < 3; i++) {
        char *dir = NULL;
        CHECK(lm_hub_resolve(repos[i].repo_id, NULL, &o, &dir) == 0);
        free(dir);
    }
    fake_hub_stop(hub);  /* manage never needs the network */
    char alpha[PATH_MAX], beta[PATH_MAX], gamma[PATH_MAX];
    snprintf(alpha, sizeof alpha, "%s/hub/models--mlx-community--alpha-4bit", home);
    snprintf(beta, sizeof beta, "%s/hub/models--mlx-community--beta-8bit", home);
    snprintf(gamma, sizeof gamma, "%s/hub/models--other-org--gamma", home);

    CHECK(run_manage((const char *const[]){"--help", NULL}) == 0 && strstr(out, "usage: cmlx manage"));
    CHECK(run_manage((const char *const[]){NULL}) == 2 && strstr(err, "--scan or --delete"));
    CHECK(run_manage((const char *const[]){"--delete", NULL}) == 2 && strstr(err, "--pattern"));

    /* --scan: the default pattern "mlx" (as mlx_lm.manage) lists the two mlx repos */
    CHECK(run_manage((const char *const[]){"--scan", NULL}) == 0);
    printf("---- cmlx manage --scan ----\n%s----\n", out);
    CHECK(strstr(out, "Scanning Hugging Face cache for models with pattern \"mlx\".\n") == out);
    CHECK(strstr(out, "REPO ID") && strstr(out, "SIZE ON DISK") && strstr(out, "NB FILES") &&
          strstr(out, "REVISIONS") && strstr(out, "LAST_ACCESSED") && strstr(out, "LAST_MODIFIED") &&
          strstr(out, "LOCAL PATH"));
    CHECK(strstr(out, "mlx-community/alpha-4bit") && strstr(out, "mlx-community/beta-8bit"));
    CHECK(!strstr(out, "other-org/gamma"));
    CHECK(strstr(out, alpha) != NULL);
    char size[16], row_size[32];
    lm_hub_format_size(sizeof weights + files[0].size, size, sizeof size);
    snprintf(row_size, sizeof row_size, "%12s", size);  /* "       12.4K" */
    CHECK_MSG(strstr(out, row_size) != NULL, "the size column lacks '%s'", row_size);
    CHECK(strstr(out, "a few seconds ago") != NULL);
    /* a pattern picks one; "" picks all */
    CHECK(run_manage((const char *const[]){"--scan", "--pattern", "gamma", NULL}) == 0);
    CHECK(strstr(out, "other-org/gamma") && !strstr(out, "alpha-4bit"));

    /* --delete without a terminal and without -y: refused, nothing deleted */
    CHECK(run_manage((const char *const[]){"--delete", "--pattern", "alpha", NULL}) == 1);
    CHECK(strstr(out, "Found the following models:") && strstr(out, "mlx-community/alpha-4bit"));
    CHECK_MSG(strstr(err, "refusing") && strstr(err, "-y"), "stderr: %s", err);
    CHECK(is_dir(alpha));

    /* on a terminal, "n" keeps it and "y" deletes it */
    int tty_rc = run_manage_tty("alpha", "n\n");
    if (tty_rc == -1 && errno_pty) {
        printf("SKIPPED: no pseudo-terminal here (%s): the y/N question is not tested\n", strerror(errno_pty));
        CHECK(run_manage((const char *const[]){"--delete", "--pattern", "alpha", "-y", NULL}) == 0);
    } else {
        CHECK(tty_rc == 0);
        CHECK_MSG(strstr(out, "Deletion cancelled - no changes made."), "tty output: %s", out);
        CHECK(is_dir(alpha));
        CHECK(run_manage_tty("alpha", "y\n") == 0);
        CHECK_MSG(strstr(out, "Model(s) deleted successfully."), "tty output: %s", out);
    }
    CHECK(!is_dir(alpha) && is_dir(beta) && is_dir(gamma));

    /* -y deletes without asking */
    CHECK(run_manage((const char *const[]){"--delete", "--pattern", "beta", "-y", NULL}) == 0);
    CHECK(strstr(out, "Deleting mlx-community/beta-8bit...") && strstr(out, "Model(s) deleted successfully."));
    CHECK(!is_dir(beta) && is_dir(gamma));
    CHECK(run_manage((const char *const[]){"--delete", "--pattern", "zzz", "--yes", NULL}) == 0);
    CHECK(strstr(out, "No models found matching pattern \"zzz\""));
    CHECK(run_manage((const char *const[]){"--scan", "--pattern", "", NULL}) == 0);
    CHECK(strstr(out, "other-org/gamma") && !strstr(out, "alpha-4bit") && !strstr(out, "beta-8bit"));

    hub_fixture_remove(home);
    return test_finish();
}
