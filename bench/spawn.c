/*
 * spawn: run one command and measure it, for bench/bench.py.
 *
 *     spawn RESULT_FILE PROGRAM [ARG]...
 *
 * Forks, execs PROGRAM (searched in PATH) with the inherited stdin/stdout/stderr, environment
 * and working directory, and waits for it with wait4(). Writes one line to RESULT_FILE:
 *
 *     wall_ns exit_code utime_us stime_us maxrss_kib
 *
 * wall_ns is CLOCK_MONOTONIC from just before fork() to wait4()'s return; exit_code is the
 * exit status, or 128+N when killed by signal N; maxrss_kib is the child's ru_maxrss.
 *
 * Why not time from Python directly: Linux reports as a child's ru_maxrss the larger of the
 * child's own peak and the peak of the address space it had *before* exec, which for a child
 * of Python (fork or vfork) is the Python interpreter's (14-25 MiB). Forked from this small
 * program instead, the floor is this program's own RSS (about 1 MiB; bench.py measures it with
 * /bin/true and reports it).
 *
 * Exits 0 when the result was written (whatever the child's status), 125 on its own errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawn RESULT_FILE PROGRAM [ARG]...\n");
        return 125;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("spawn: fork");
        return 125;
    }
    if (pid == 0) {
        execvp(argv[2], &argv[2]);
        fprintf(stderr, "spawn: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    pid_t got;
    do {
        got = wait4(pid, &status, 0, &ru);
    } while (got < 0 && errno == EINTR);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (got < 0) {
        perror("spawn: wait4");
        return 125;
    }
    long long wall_ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    long long ut = (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
    long long st = (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror("spawn: result file");
        return 125;
    }
    fprintf(f, "%lld %d %lld %lld %ld\n", wall_ns, code, ut, st, ru.ru_maxrss);
    if (fclose(f) != 0) {
        perror("spawn: result file");
        return 125;
    }
    return 0;
}
