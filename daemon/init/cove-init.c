/*
 * cove-init: the minimal PID 1 of a Cove sandbox container.
 *
 * Usage: cove-init [--daemon-env] COMMAND [ARG...]
 *        cove-init --signal-marked NAME=VALUE SIGNO
 *
 * The second form sends SIGNO to every process whose environment holds NAME=VALUE and that
 * this process may read — run it as a command's uid to reach that command's processes,
 * including ones that detached with setsid, without giving the daemon CAP_SYS_PTRACE. It
 * prints nothing and exits 0.
 *
 * With --daemon-env, COMMAND starts with only the COVE_DAEMON_* variables of the container's
 * environment: the image's own variables (LD_PRELOAD, NODE_OPTIONS, NODE_EXTRA_CA_CERTS …)
 * must not reach the daemon's Node. The daemon reads the full environment back from
 * /proc/1/environ and gives it to user commands.
 *
 * Runs COMMAND (the daemon) as its only direct child, forwards SIGTERM, SIGINT, SIGHUP,
 * SIGQUIT, SIGUSR1 and SIGUSR2 to it, reaps every process that ends up parented to PID 1
 * (orphans of user commands), and exits with the child's status once the child exits
 * (128 + signal number when the child was killed by a signal). Built statically so it runs
 * in any x86_64 Linux image.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NFORWARDED (sizeof forwarded / sizeof forwarded[0])

/*
 * daemon_environment returns the COVE_DAEMON_* subset of environ, NULL-terminated, plus
 * COVE_DAEMON_SANDBOX_ENV=parent (unless set) so the daemon reads the full environment from
 * its parent, this process.
 */
static char **daemon_environment(void) {
  extern char **environ;
  size_t n = 0;
  for (char **e = environ; *e; e++) n++;
  char **out = calloc(n + 3, sizeof *out);
  if (!out) return NULL;
  size_t k = 0;
  int has_source = 0;
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "COVE_DAEMON_", 12) != 0) continue;
    if (strncmp(*e, "COVE_DAEMON_SANDBOX_ENV=", 24) == 0) has_source = 1;
    out[k++] = *e;
  }
  if (!has_source) out[k++] = "COVE_DAEMON_SANDBOX_ENV=parent";
  /* Tell the daemon where this binary is, for --signal-marked. */
  static char self_var[4200];
  char self_path[4096];
  ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (len > 0) {
    self_path[len] = '\0';
    snprintf(self_var, sizeof self_var, "COVE_DAEMON_INIT=%s", self_path);
    out[k++] = self_var;
  }
  out[k] = NULL;
  return out;
}

/* signal_marked sends signo to every readable process whose environment holds marker. */
static int signal_marked(const char *marker, int signo) {
  size_t mlen = strlen(marker);
  DIR *proc = opendir("/proc");
  if (!proc) return 1;
  static char buf[1 << 16];
  struct dirent *entry;
  pid_t self = getpid();
  while ((entry = readdir(proc)) != NULL) {
    char *end = NULL;
    long pid = strtol(entry->d_name, &end, 10);
    if (!end || *end != '\0' || pid <= 0 || pid == self) continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    /* Entries are NUL-separated; compare each whole entry with the marker. */
    for (ssize_t i = 0; i < n;) {
      size_t len = strnlen(buf + i, (size_t)(n - i));
      if (len == mlen && memcmp(buf + i, marker, mlen) == 0) {
        kill((pid_t)pid, signo);
        break;
      }
      i += (ssize_t)len + 1;
    }
  }
  closedir(proc);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--signal-marked") == 0) {
    return signal_marked(argv[2], atoi(argv[3]));
  }
  int clean_env = argc > 1 && strcmp(argv[1], "--daemon-env") == 0;
  if (clean_env) {
    argv++;
    argc--;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: cove-init [--daemon-env] COMMAND [ARG...]\n");
    return 2;
  }

  /* Adopt orphans even when not PID 1 (e.g. under `docker run --init` or in a test). */
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  /* Block the signals we handle; sigwait() receives them synchronously below. */
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  for (size_t i = 0; i < NFORWARDED; i++) sigaddset(&handled, forwarded[i]);
  sigset_t original;
  if (sigprocmask(SIG_BLOCK, &handled, &original) != 0) {
    perror("cove-init: sigprocmask");
    return 1;
  }

  pid_t child = fork();
  if (child < 0) {
    perror("cove-init: fork");
    return 1;
  }
  if (child == 0) {
    /* The child starts with the signal mask and dispositions an exec'd program expects. */
    sigprocmask(SIG_SETMASK, &original, NULL);
    if (clean_env) {
      char **env = daemon_environment();
      if (env) execve(argv[1], argv + 1, env);
    } else {
      execvp(argv[1], argv + 1);
    }
    fprintf(stderr, "cove-init: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }

  for (;;) {
    int sig = 0;
    if (sigwait(&handled, &sig) != 0) continue;
    if (sig != SIGCHLD) {
      /* The child may already be gone; a failed kill is harmless then. */
      kill(child, sig);
      continue;
    }
    /* Reap everything that has exited: the child and any orphan reparented to us. */
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid != child) continue;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
  }
}
