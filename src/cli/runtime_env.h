/* The OpenMP runtime's settings that must be in the environment before it starts.
 *
 * libgomp reads GOMP_SPINCOUNT / OMP_WAIT_POLICY / OMP_NUM_THREADS once, when it is loaded
 * (before main), so the CLI sets what it needs and re-runs itself (execv of /proc/self/exe
 * with the same arguments) when the environment lacked it:
 *  - GOMP_SPINCOUNT=10000 unless the user set GOMP_SPINCOUNT or OMP_WAIT_POLICY. libgomp's
 *    default lets an idle thread spin 300,000 times after every parallel region; a token is
 *    ~200 regions, and when the cores are shared the spinner takes the core the main thread
 *    needs: measured on this project's 2-core machine with one busy neighbour, a 0.6 B model's
 *    time to first token was 4.0-4.5 s on 2 threads with the default, 0.8-1.1 s with 10,000,
 *    0.66 s on one thread (docs/performance.md, "OpenMP waiting").
 *  - OMP_NUM_THREADS and OPENBLAS_NUM_THREADS = threads when threads > 0 (cmlx bench
 *    --threads).
 * Returns only when nothing had to change or the exec failed (then it warns once and the
 * process goes on with the settings it has). argv: main's, argv[0] included. */
#ifndef CMLX_CLI_RUNTIME_ENV_H
#define CMLX_CLI_RUNTIME_ENV_H

void cli_runtime_env(int argc, char **argv, int threads);

#endif
