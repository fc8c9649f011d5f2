/* Chat templates at the chat level: loading a model directory (tokenizer_config.json,
 * chat_template.jinja precedence, named templates, AddedToken special tokens,
 * special_tokens_map.json), the variables apply passes, and the fixed clock. Also renders
 * the real shared tokenizers when ../shared is present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"

static char dir[256];

static void write_file(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static void expect_apply(const lm_chat_template *t, const char *msgs, const char *tools, int agp, const char *kw,
                         const char *want, int line) {
    char *got = lm_chat_template_apply(t, msgs, tools, agp, kw);
    CHECK_MSG(got && !strcmp(got, want), "line %d: want [%s] got [%s] %s", line, want, got ? got : "(null)",
              got ? "" : mx_last_error());
    free(got);
}
#define APPLY(t, m, tools, agp, kw, want) expect_apply(t, m, tools, agp, kw, want, __LINE__)

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cmlx_tpl_test_%d", (int)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    const char *msgs = "[{\"role\": \"user\", \"content\": \"hi\"}]";

    /* named templates, AddedToken objects, null tokens left out */
    write_file("tokenizer_config.json",
               "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<s>\"}, \"eos_token\": \"</s>\","
               " \"unk_token\": null, \"pad_token\": \"\", \"additional_special_tokens\": [\"<a>\", \"<b>\"],"
               " \"model_max_length\": 1000000000000000019884624838656,"
               " \"chat_template\": [{\"name\": \"default\", \"template\": \"D{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}\"},"
               " {\"name\": \"tool_use\", \"template\": \"T{{ tools|length }}{{ unk_token is defined }}{{ pad_token is defined }}{{ additional_special_tokens }}\"}]}");
    lm_chat_template *t = lm_chat_template_load(dir);
    CHECK_MSG(t != NULL, "load: %s", mx_last_error());
    if (t) {
        APPLY(t, msgs, NULL, 0, NULL, "D<s>hi</s>");
        APPLY(t, msgs, "[{\"type\": \"function\"}]", 0, NULL, "T1FalseFalse['<a>', '<b>']");
        CHECK(strncmp(lm_chat_template_source(t, 1), "T{{", 3) == 0);
        lm_chat_template_free(t);
    }
    /* special_tokens_map.json overrides; chat_template.jinja takes precedence */
    write_file("special_tokens_map.json", "{\"eos_token\": {\"content\": \"<eos2>\"}}");
    write_file("chat_template.jinja",
               "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}|{{ documents }}|{{ enable_thinking }}|"
               "{{ messages[0]['content'] }}|{{ strftime_now('%Y-%m-%d %H:%M %A %B %j') }}\n");
    t = lm_chat_template_load(dir);
    CHECK_MSG(t != NULL, "load: %s", mx_last_error());
    if (t) {
        CHECK(lm_chat_template_set_clock(t, "2025-06-15T12:00:00") == 0);
        APPLY(t, msgs, NULL, 1, "{\"enable_thinking\": false}", "<s>|<eos2>|True|None|None|False|hi|2025-06-15 12:00 Sunday June 166");
        CHECK(lm_chat_template_set_clock(t, "June 15") == -1);
        /* messages with list content and tool calls pass through as JSON values */
        APPLY(t, "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"x\"}]}]", NULL, 0, NULL,
              "<s>|<eos2>|False|None|None||[{'type': 'text', 'text': 'x'}]|2025-06-15 12:00 Sunday June 166");
        CHECK(lm_chat_template_apply(t, "not json", NULL, 0, NULL) == NULL && strstr(mx_last_error(), "messages"));
        CHECK(lm_chat_template_apply(t, msgs, NULL, 0, "[1]") == NULL && strstr(mx_last_error(), "kwargs"));
        lm_chat_template_free(t);
    }
    /* a template that does not parse is reported with its origin */
    write_file("chat_template.jinja", "{% if %}");
    t = lm_chat_template_load(dir);
    CHECK(t == NULL && strstr(mx_last_error(), "TemplateSyntaxError") && strstr(mx_last_error(), "chat_template.jinja"));
    remove_file("chat_template.jinja");
    remove_file("special_tokens_map.json");
    /* no template at all */
    write_file("tokenizer_config.json", "{\"eos_token\": \"</s>\"}");
    t = lm_chat_template_load(dir);
    CHECK(t == NULL && strstr(mx_last_error(), "no chat template"));
    remove_file("tokenizer_config.json");
    rmdir(dir);

    /* lm_chat_template_new */
    t = lm_chat_template_new("{{ bos_token }}{{ messages|length }}", "{\"bos_token\": \"<B>\"}");
    CHECK(t != NULL);
    if (t) {
        APPLY(t, "[1, 2]", NULL, 0, NULL, "<B>2");
        lm_chat_template_free(t);
    }

    /* the real tokenizers in ../shared */
    const char *shared = test_shared_dir("real tokenizer chat templates");
    if (shared) {
        char path[512];
        snprintf(path, sizeof path, "%s/tokenizers/qwen3", shared);
        t = lm_chat_template_load(path);
        CHECK_MSG(t != NULL, "qwen3: %s", mx_last_error());
        if (t) {
            APPLY(t, "[{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Q\"}]", NULL, 1,
                  "{\"enable_thinking\": false}",
                  "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
            lm_chat_template_free(t);
        }
        snprintf(path, sizeof path, "%s/tokenizers/mistral-7b-v0.1", shared);
        t = lm_chat_template_load(path);
        CHECK(t == NULL && strstr(mx_last_error(), "no chat template"));
    }
    return test_finish();
}
