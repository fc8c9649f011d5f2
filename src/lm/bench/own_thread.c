/* bench_run_on_own_thread (see own_thread.h). */
#include "lm/bench/own_thread.h"

#include <pthread.h>

typedef struct {
    void (*fn)(void *);
    void *arg;
} own_thread_job;

static void *own_thread_main(void *p) {
    own_thread_job *job = p;
    job->fn(job->arg);
    return NULL;
}

void bench_run_on_own_thread(void (*fn)(void *), void *arg) {
    own_thread_job job = {fn, arg};
    pthread_t t;
    if (pthread_create(&t, NULL, own_thread_main, &job) != 0) {
        fn(arg);
        return;
    }
    /* joining a thread created just above, joinable and not joined elsewhere, cannot fail */
    (void)pthread_join(t, NULL);
}
