/*
 * cove-init: the minimal PID 1 of a Cove sandbox container.
 *
 * Usage: cove-init [--daemon-env] COMMAND [ARG...]
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
#include <errno.h>
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
  char **out = calloc(n + 2, sizeof *out);
  if (!out) return NULL;
  size_t k = 0;
  int has_source = 0;
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "COVE_DAEMON_", 12) != 0) continue;
    if (strncmp(*e, "COVE_DAEMON_SANDBOX_ENV=", 24) == 0) has_source = 1;
    out[k++] = *e;
  }
  if (!has_source) out[k++] = "COVE_DAEMON_SANDBOX_ENV=parent";
  out[k] = NULL;
  return out;
}

int main(int argc, char **argv) {
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
