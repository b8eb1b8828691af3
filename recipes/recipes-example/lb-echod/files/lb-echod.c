/*
 * lb-echod: a tiny line echo daemon for the portable-service demo.
 *
 * Listens on a TCP port (LB_ECHOD_PORT, default 7777) on the loopback address (or LB_ECHOD_ADDRESS, an
 * IPv4 address such as 0.0.0.0 for every address of its network namespace), or on a socket passed
 * by systemd socket activation (LISTEN_FDS), and echoes every line back prefixed with "echo: ".
 * Exits cleanly on SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static void serve(int fd)
{
    char buf[1024];
    FILE *in = fdopen(fd, "r");
    if (!in) {
        close(fd);
        return;
    }
    while (fgets(buf, sizeof(buf), in)) {
        dprintf(fd, "echo: %s", buf);
    }
    fclose(in);
}

static int listen_socket(void)
{
    const char *fds = getenv("LISTEN_FDS");
    const char *port_text = getenv("LB_ECHOD_PORT");
    const char *address = getenv("LB_ECHOD_ADDRESS");
    struct sockaddr_in addr;
    int one = 1;
    int fd;

    if (fds && atoi(fds) >= 1)
        return 3; /* SD_LISTEN_FDS_START */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_text ? atoi(port_text) : 7777);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (address && *address && inet_pton(AF_INET, address, &addr.sin_addr) != 1) {
        fprintf(stderr, "lb-echod: LB_ECHOD_ADDRESS %s is not an IPv4 address\n", address);
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(void)
{
    struct sigaction sa;
    int fd = listen_socket();

    if (fd < 0) {
        perror("lb-echod: cannot listen");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGCHLD, SIG_IGN);
    fprintf(stderr, "lb-echod: ready\n");
    while (!stopping) {
        int client = accept(fd, NULL, NULL);
        if (client < 0) {
            if (errno == EINTR)
                continue;
            perror("lb-echod: accept");
            return 1;
        }
        if (fork() == 0) {
            close(fd);
            serve(client);
            _exit(0);
        }
        close(client);
    }
    return 0;
}
