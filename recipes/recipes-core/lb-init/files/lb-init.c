/*
 * lb-init: a minimal PID 1 for containers and overlay-boot subhosts.
 *
 * Starts the command given on its command line (or /etc/lb-init/rc when there is none), forwards
 * SIGTERM, SIGINT and SIGHUP to it, reaps every child that is re-parented to it, and exits with the
 * main child's status once no child remains.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t pending_signal;

static void on_signal(int sig)
{
    pending_signal = sig;
}

int main(int argc, char **argv)
{
    char *default_argv[] = {"/etc/lb-init/rc", NULL};
    char **child_argv = argc > 1 ? argv + 1 : default_argv;
    struct sigaction sa;
    int main_status = 0;
    pid_t main_pid;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    main_pid = fork();
    if (main_pid < 0) {
        perror("lb-init: fork");
        return 1;
    }
    if (main_pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execv(child_argv[0], child_argv);
        fprintf(stderr, "lb-init: cannot run %s: %s\n", child_argv[0], strerror(errno));
        _exit(127);
    }

    for (;;) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR) {
                if (pending_signal) {
                    kill(-1, pending_signal);
                    pending_signal = 0;
                }
                continue;
            }
            if (errno == ECHILD)
                break;
            perror("lb-init: wait");
            return 1;
        }
        if (pid == main_pid)
            main_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return main_status;
}
