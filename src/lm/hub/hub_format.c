/* Human formats as huggingface_hub prints them (sizes, ages) and the stderr progress
 * reporter that programs install. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmlx/lm_hub.h"

char *lm_hub_format_size(uint64_t bytes, char *buf, size_t n) {
    /* _format_size: powers of 1000, "{:3.1f}{unit}" */
    static const char *const units[] = {"", "K", "M", "G", "T", "P", "E", "Z"};
    double v = (double)bytes;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (fabs(v) < 1000.0) {
            snprintf(buf, n, "%3.1f%s", v, units[i]);
            return buf;
        }
        v /= 1000.0;
    }
    snprintf(buf, n, "%.1fY", v);
    return buf;
}

char *lm_hub_format_age(double timestamp, double now, char *buf, size_t n) {
    /* format_timesince: the first unit whose rounded count stays within its limit */
    static const struct { const char *label; double divider; long max; } chunks[] = {
        {"second", 1, 60},           {"minute", 60, 60},          {"hour", 3600, 24},
        {"day", 86400, 6},           {"week", 86400 * 7, 6},      {"month", 86400 * 30, 11},
        {"year", 86400 * 365, -1},
    };
    double delta = now - timestamp;
    if (delta < 20) {
        snprintf(buf, n, "a few seconds ago");
        return buf;
    }
    long value = 0;
    size_t i = 0;
    for (; i < sizeof chunks / sizeof chunks[0]; i++) {
        value = (long)nearbyint(delta / chunks[i].divider);  /* Python's round(): ties to even */
        if (chunks[i].max >= 0 && value <= chunks[i].max) break;
    }
    if (i == sizeof chunks / sizeof chunks[0]) i--;
    snprintf(buf, n, "%ld %s%s ago", value, chunks[i].label, value > 1 ? "s" : "");
    return buf;
}

void lm_hub_progress_stderr(const lm_hub_progress *p, void *ctx) {
    (void)ctx;
    int tty = isatty(STDERR_FILENO);
    char done[16], total[16], rate[16];
    double fresh = (double)(p->done - p->resumed_from);
    lm_hub_format_size(p->elapsed_s > 0 ? (uint64_t)(fresh / p->elapsed_s) : 0, rate, sizeof rate);
    lm_hub_format_size(p->done, done, sizeof done);
    if (!p->finished) {
        if (!tty) return;  /* a log file gets the final line only */
        const char *name = p->filename;
        size_t len = strlen(name);
        if (len > 32) name += len - 32;  /* keep the end, where shard numbers are */
        if (p->total) {
            int pct = (int)(100.0 * (double)p->done / (double)p->total);
            if (pct > 100) pct = 100;
            char bar[26];
            int fill = pct / 4;
            for (int i = 0; i < 25; i++) bar[i] = i < fill ? '#' : '.';
            bar[25] = '\0';
            lm_hub_format_size(p->total, total, sizeof total);
            fprintf(stderr, "\r\033[K%-32s %3d%% [%s] %s/%s %s/s", name, pct, bar, done, total, rate);
        } else {
            fprintf(stderr, "\r\033[K%-32s %s %s/s", name, done, rate);
        }
        fflush(stderr);
        return;
    }
    if (tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "Downloaded %s/%s (%s in %.1fs, %s/s", p->repo_id, p->filename, done, p->elapsed_s, rate);
    if (p->resumed_from) {
        char resumed[16];
        fprintf(stderr, ", resumed at %s", lm_hub_format_size(p->resumed_from, resumed, sizeof resumed));
    }
    fprintf(stderr, ")\n");
}
