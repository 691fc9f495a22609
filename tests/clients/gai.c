/* A getaddrinfo client, as an application calls its libc's resolver: AF_UNSPEC (A and
 * AAAA). Built static with musl-gcc it is an Alpine app's resolver; built with gcc, a
 * Debian app's (glibc). Three modes:
 *   gai NAME                            one lookup, one line per address
 *   gai --loop INTERVAL_MS COUNT SECONDS NAME...
 *                                       COUNT lookups, the names in turn, one every
 *                                       INTERVAL_MS (or as soon as the last one ends),
 *                                       none started after SECONDS; a line each:
 *                                       "ok|nxdomain|fail MS NAME" (nxdomain: the
 *                                       name does not exist; fail: no answer came)
 *   gai --wait                          block until SIGTERM (a pod's main process)
 *   gai --cat FILE                      print FILE (an image without a shell)
 * Exit 0 with addresses (or a finished loop), 2 when the name does not resolve, 64 on bad
 * usage. The loop is bounded by COUNT (at most 100000) and SECONDS (at most 3600). */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int lookup(const char *name, int print) {
    struct addrinfo hints, *res, *p;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        if (print)
            fprintf(stderr, "%s: %s\n", name, gai_strerror(rc));
        return rc == EAI_NONAME ? EAI_NONAME : 2;
    }
    for (p = res; p && print; p = p->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        const void *a = p->ai_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
        if (inet_ntop(p->ai_family, a, buf, sizeof buf))
            printf("%s\n", buf);
    }
    freeaddrinfo(res);
    return 0;
}

static int loop(long interval, long count, long seconds, int nnames, char **names) {
    if (interval < 0 || count < 1 || count > 100000 || seconds < 1 || seconds > 3600 || nnames < 1)
        return 64;
    setvbuf(stdout, NULL, _IOLBF, 0);
    double next = now_ms(), end = next + seconds * 1e3;
    for (long i = 0; i < count && now_ms() < end; i++) {
        const char *name = names[i % nnames];
        double start = now_ms();
        int rc = lookup(name, 0);
        const char *status = rc == 0 ? "ok" : rc == EAI_NONAME ? "nxdomain" : "fail";
        printf("%s %.1f %s\n", status, now_ms() - start, name);
        next += interval;
        double wait = next - now_ms();
        if (wait > 0)
            usleep((useconds_t)(wait * 1e3));
        else
            next = now_ms();
    }
    return 0;
}

static void done(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--wait") == 0) {
        signal(SIGTERM, done);
        signal(SIGINT, done);
        for (;;)
            pause();
    }
    if (argc == 3 && strcmp(argv[1], "--cat") == 0) {
        FILE *f = fopen(argv[2], "r");
        int c;
        if (!f)
            return 2;
        while ((c = getc(f)) != EOF)
            putchar(c);
        return fclose(f) == 0 ? 0 : 2;
    }
    if (argc >= 6 && strcmp(argv[1], "--loop") == 0)
        return loop(atol(argv[2]), atol(argv[3]), atol(argv[4]), argc - 5, argv + 5);
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: gai NAME | gai --loop INTERVAL_MS COUNT SECONDS NAME... | gai --wait | gai --cat FILE\n");
        return 64;
    }
    return lookup(argv[1], 1) == 0 ? 0 : 2;
}
