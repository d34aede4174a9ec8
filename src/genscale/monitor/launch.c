/* genscale-launch: start one task inside its cgroups, wait for it, report its peak memory.

     genscale-launch REPORT_FD [CGROUP_PROCS_FILE ...] -- COMMAND [ARG ...]

   1. Joins each cgroup named (a cgroup v1 or v2 `cgroup.procs` file) by writing its own pid
      into it, before the task exists: the cgroup counts the task from its first instruction,
      and everything it forks.
   2. Forks and execs COMMAND (searched on PATH).
   3. Waits for it and writes to REPORT_FD what GNU time's `-f %M` writes: "Command
      terminated by signal N" if a signal ended it, then the peak resident set in KiB of the
      largest process of the tree it waited for (wait4's ru_maxrss). REPORT_FD is closed in
      the task.

   Exit status: the command's; 128+N when signal N ended it; 125 when this program failed,
   126 when COMMAND could not be run, 127 when it was not found (the conventions of GNU time
   and env). It ignores SIGINT and SIGQUIT while it waits, as GNU time does, so that an
   interrupt ends the task and the report is still written.

   Why a program of our own: it does what `/bin/sh -c 'echo $$ > cgroup.procs && exec
   time ...'` did with one exec fewer per task, which was a sixth of all the CPU that a
   no-op task cost (issue 22). GenScale compiles it on first use (genscale.monitor.launch)
   and falls back to /bin/sh and GNU time where no C compiler is found. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const me = "genscale-launch";

static int fail(const char *what, int err) {
    fprintf(stderr, "%s: %s: %s\n", me, what, strerror(err));
    return 125;
}

static int usage(void) {
    fprintf(stderr, "usage: %s REPORT_FD [CGROUP_PROCS_FILE ...] -- COMMAND [ARG ...]\n", me);
    return 125;
}

/* 0, or the errno of joining the cgroup whose cgroup.procs is `procs` */
static int join(const char *procs) {
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t written = write(fd, pid, (size_t)n);
    int err = written == n ? 0 : (written < 0 ? errno : EIO);
    if (close(fd) != 0 && err == 0) err = errno;
    return err;
}

static void write_all(int fd, const char *text, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, text, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nobody reads the report any more: the exit status still tells */
        }
        text += w;
        len -= (size_t)w;
    }
}

int main(int argc, char **argv) {
    if (argc < 4) return usage();
    char *end;
    errno = 0;
    long report = strtol(argv[1], &end, 10);
    if (errno != 0 || *end != '\0' || end == argv[1] || report < 0 || report > INT_MAX)
        return usage();
    if (fcntl((int)report, F_SETFD, FD_CLOEXEC) != 0) return fail("REPORT_FD", errno);
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        int err = join(argv[i]);
        if (err != 0) return fail(argv[i], err);
    }
    if (i + 1 >= argc) return usage();
    char **command = argv + i + 1;

    pid_t child = fork();
    if (child < 0) return fail("fork", errno);
    if (child == 0) {
        execvp(command[0], command);
        int err = errno;
        fprintf(stderr, "%s: %s: %s\n", me, command[0], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int status;
    struct rusage usage_of_child;
    while (wait4(child, &status, 0, &usage_of_child) < 0)
        if (errno != EINTR) return fail("wait4", errno);

    char line[96];
    int n = 0;
    if (WIFSIGNALED(status))
        n = snprintf(line, sizeof line, "Command terminated by signal %d\n", WTERMSIG(status));
    n += snprintf(line + n, sizeof line - (size_t)n, "%ld\n", usage_of_child.ru_maxrss);
    write_all((int)report, line, (size_t)n);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
