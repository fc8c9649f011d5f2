/* cmlx manage: list or delete models in the Hugging Face cache, as mlx_lm.manage does
 * (same messages and table layout; a REVISIONS column added; deletion needs a pattern
 * and a y/N answer on a terminal, or -y). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cmlx/error.h"
#include "cmlx/lm_hub.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cmlx manage (--scan | --delete) [--pattern P] [-y]\n"
            "\n"
            "Scan or delete models in the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub,\n"
            "else ~/.cache/huggingface/hub).\n"
            "\n"
            "options:\n"
            "  --scan         list cached models whose repo id contains the pattern\n"
            "  --delete       delete cached models whose repo id contains the pattern\n"
            "                 (asks for confirmation; needs --pattern)\n"
            "  --pattern P    substring of the repo id to match (default for --scan: \"mlx\",\n"
            "                 as mlx_lm.manage; \"\" matches every repo)\n"
            "  -y, --yes      delete without asking (required when stdin is not a terminal)\n"
            "  -h, --help     show this help\n");
}

/* ==== Tables (mlx_lm.manage's tabulate: columns padded to their widest cell, each
 * followed by a space; numbers right-aligned as Python's format() does) ==== */

typedef struct {
    const char *text;
    int right;  /* right-align (a number) */
} cell;

static void print_table(const char *const *headers, size_t n_cols, const cell *cells, size_t n_rows) {
    size_t width[16] = {0};
    for (size_t c = 0; c < n_cols; c++) {
        width[c] = strlen(headers[c]);
        for (size_t r = 0; r < n_rows; r++)
            if (strlen(cells[r * n_cols + c].text) > width[c]) width[c] = strlen(cells[r * n_cols + c].text);
    }
    for (size_t c = 0; c < n_cols; c++) printf("%-*s ", (int)width[c], headers[c]);
    printf("\n");
    for (size_t c = 0; c < n_cols; c++) {
        for (size_t i = 0; i < width[c]; i++) putchar('-');
        putchar(' ');
    }
    for (size_t r = 0; r < n_rows; r++) {
        printf("\n");
        for (size_t c = 0; c < n_cols; c++) {
            const cell *x = &cells[r * n_cols + c];
            printf(x->right ? "%*s " : "%-*s ", (int)width[c], x->text);
        }
    }
    printf("\n");
}

/* ==== Matching ==== */

/* The repos whose id contains `pattern` (mlx_lm: `args.pattern in repo.repo_id`), in the
 * scan's order (by path). Returns their count; *idx (malloc'd) holds their indices. */
static size_t select_repos(const lm_hub_cache_info *info, const char *pattern, size_t **idx) {
    *idx = calloc(info->n_repos ? info->n_repos : 1, sizeof **idx);
    if (!*idx) return 0;
    size_t n = 0;
    for (size_t i = 0; i < info->n_repos; i++)
        if (strstr(info->repos[i].repo_id, pattern)) (*idx)[n++] = i;
    return n;
}

#define N_SCAN_COLS 8

static int do_scan(const lm_hub_cache_info *info, const char *pattern) {
    printf("Scanning Hugging Face cache for models with pattern \"%s\".\n", pattern);
    size_t *idx;
    size_t n = select_repos(info, pattern, &idx);
    if (!idx) return fprintf(stderr, "cmlx manage: out of memory\n"), 1;
    /* per row: size, files, revisions, accessed, modified (each up to 64 bytes) */
    char(*text)[5][64] = calloc(n ? n : 1, sizeof *text);
    cell *cells = calloc(n ? n * N_SCAN_COLS : 1, sizeof *cells);
    if (!text || !cells) {
        free(idx), free(text), free(cells);
        return fprintf(stderr, "cmlx manage: out of memory\n"), 1;
    }
    double now = (double)time(NULL);
    for (size_t r = 0; r < n; r++) {
        const lm_hub_cached_repo *repo = &info->repos[idx[r]];
        char size[32];
        snprintf(text[r][0], 64, "%12s", lm_hub_format_size(repo->size_on_disk, size, sizeof size));
        snprintf(text[r][1], 64, "%zu", repo->nb_files);
        snprintf(text[r][2], 64, "%zu", repo->nb_revisions);
        lm_hub_format_age(repo->last_accessed, now, text[r][3], 64);
        lm_hub_format_age(repo->last_modified, now, text[r][4], 64);
        cell *row = &cells[r * N_SCAN_COLS];
        row[0] = (cell){repo->repo_id, 0};
        row[1] = (cell){repo->repo_type, 0};
        row[2] = (cell){text[r][0], 0};
        row[3] = (cell){text[r][1], 1};
        row[4] = (cell){text[r][2], 1};
        row[5] = (cell){text[r][3], 0};
        row[6] = (cell){text[r][4], 0};
        row[7] = (cell){repo->path, 0};
    }
    static const char *const headers[N_SCAN_COLS] = {"REPO ID",       "REPO TYPE",     "SIZE ON DISK",
                                                     "NB FILES",      "REVISIONS",     "LAST_ACCESSED",
                                                     "LAST_MODIFIED", "LOCAL PATH"};
    print_table(headers, N_SCAN_COLS, cells, n);
    free(idx);
    free(text);
    free(cells);
    return 0;
}

/* ==== Deletion ==== */

/* mlx_lm's ask_for_confirmation: y/yes/1 or n/no/0/empty, asked again otherwise; the end
 * of input answers no. */
static int confirm(const char *question) {
    char line[256];
    for (;;) {
        printf("%s (y/N) ", question);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) {
            printf("\n");
            return 0;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (!strcasecmp(line, "y") || !strcasecmp(line, "yes") || !strcmp(line, "1")) return 1;
        if (!strcasecmp(line, "n") || !strcasecmp(line, "no") || !strcmp(line, "0") || !line[0]) return 0;
        printf("Invalid input. Must be one of: yes/no/y/n or empty for no\n");
    }
}

static int do_delete(const lm_hub_cache_info *info, const char *pattern, int yes) {
    printf("Deleting models matching pattern \"%s\"\n", pattern);
    size_t *idx;
    size_t n = select_repos(info, pattern, &idx);
    if (!idx) return fprintf(stderr, "cmlx manage: out of memory\n"), 1;
    if (n == 0) {
        printf("No models found matching pattern \"%s\"\n", pattern);
        free(idx);
        return 0;
    }
    char(*sizes)[32] = calloc(n, sizeof *sizes);
    cell *cells = calloc(n * 3, sizeof *cells);
    if (!sizes || !cells) {
        free(idx), free(sizes), free(cells);
        return fprintf(stderr, "cmlx manage: out of memory\n"), 1;
    }
    for (size_t r = 0; r < n; r++) {
        const lm_hub_cached_repo *repo = &info->repos[idx[r]];
        cells[r * 3] = (cell){repo->repo_id, 0};
        cells[r * 3 + 1] = (cell){lm_hub_format_size(repo->size_on_disk, sizes[r], sizeof sizes[r]), 0};
        cells[r * 3 + 2] = (cell){repo->path, 0};
    }
    printf("\nFound the following models:\n");
    static const char *const headers[3] = {"REPO ID", "SIZE", "LOCAL PATH"};
    print_table(headers, 3, cells, n);
    free(sizes);
    free(cells);
    int status = 0;
    if (!yes && !isatty(STDIN_FILENO)) {
        fflush(stdout);
        fprintf(stderr, "cmlx manage: refusing to delete without confirmation: stdin is not a terminal; "
                        "pass -y (--yes) to delete these models\n");
        status = 1;
    } else if (yes || confirm("\nAre you sure you want to delete these models?")) {
        for (size_t r = 0; r < n && status == 0; r++) {
            const lm_hub_cached_repo *repo = &info->repos[idx[r]];
            printf("\nDeleting %s...\n", repo->repo_id);
            if (lm_hub_delete_cached_repo(info, repo) != 0) {
                fflush(stdout);
                fprintf(stderr, "cmlx manage: %s\n", mx_last_error());
                status = 1;
            }
        }
        if (status == 0) printf("\nModel(s) deleted successfully.\n");
    } else {
        printf("\nDeletion cancelled - no changes made.\n");
    }
    free(idx);
    return status;
}

int cmd_manage(int argc, char **argv) {
    int scan = 0, del = 0, yes = 0;
    const char *pattern = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--scan")) {
            scan = 1;
        } else if (!strcmp(a, "--delete")) {
            del = 1;
        } else if (!strcmp(a, "-y") || !strcmp(a, "--yes")) {
            yes = 1;
        } else if (!strcmp(a, "--pattern") && i + 1 < argc) {
            pattern = argv[++i];
        } else if (!strncmp(a, "--pattern=", 10)) {
            pattern = a + 10;
        } else {
            fprintf(stderr, "cmlx manage: %s '%s'\n\n",
                    !strcmp(a, "--pattern") ? "missing value after" : "unknown argument", a);
            usage(stderr);
            return 2;
        }
    }
    if (!scan && !del) {
        fprintf(stderr, "cmlx manage: say --scan or --delete\n\n");
        usage(stderr);
        return 2;
    }
    if (del && !pattern) {
        fprintf(stderr, "cmlx manage: --delete needs --pattern P (the repos whose id contains P)\n");
        return 2;
    }
    lm_hub_cache_info *info;
    if (lm_hub_scan_cache(NULL, &info) != 0) {
        fprintf(stderr, "cmlx manage: %s\n", mx_last_error());
        return 1;
    }
    for (size_t i = 0; i < info->n_warnings; i++) fprintf(stderr, "warning: skipped %s\n", info->warnings[i]);
    int status = 0;
    if (scan) status = do_scan(info, pattern ? pattern : "mlx");
    if (del && status == 0) {
        if (scan) {  /* the scan above may be stale by now: rescan before deleting */
            lm_hub_cache_info_free(info);
            if (lm_hub_scan_cache(NULL, &info) != 0) {
                fprintf(stderr, "cmlx manage: %s\n", mx_last_error());
                return 1;
            }
        }
        status = do_delete(info, pattern, yes);
    }
    lm_hub_cache_info_free(info);
    return status;
}
