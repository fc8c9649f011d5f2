/* Running the bench's own OpenMP measurements off the calling thread. */
#ifndef CMLX_LM_BENCH_OWN_THREAD_H
#define CMLX_LM_BENCH_OWN_THREAD_H

/* Runs fn(arg) on a thread created for the call and waits for it to end.
 *
 * Why: libgomp counts every thread that has ever run a parallel region, with the pool of
 * workers it keeps, until that thread exits; once it counts more threads than CPUs it stops
 * spinning between regions (~100 spins, then a futex sleep), so every region of the stream
 * worker's kernels starts with a wake-up. The roofline's read passes on the CLI's main thread
 * did that to every `cmlx bench --threads 2` run: on the 2-vCPU VM, a region started 15-35
 * us later (scratch test: 4000 regions of 100 us from a second thread, 124-131 us each with
 * no region ever on the main thread, 145-157 us after one), and a decode step has 150 (dense
 * 1B) to 700 (Qwen3-30B-A3B) regions. A thread that exits takes its pool with it.
 *
 * When the thread cannot be created, fn runs on the calling thread (the figures stay right;
 * only that penalty comes back). */
void bench_run_on_own_thread(void (*fn)(void *), void *arg);

#endif
