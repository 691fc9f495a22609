/* A getaddrinfo client, as an application calls its libc's resolver: AF_UNSPEC (A and
 * AAAA), one line per address. Built static with musl-gcc, it is an Alpine app's resolver.
 * Exit 0 with addresses, 2 when the name does not resolve, 64 on bad usage. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gai NAME\n");
        return 64;
    }
    struct addrinfo hints, *res, *p;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(argv[1], NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], gai_strerror(rc));
        return 2;
    }
    for (p = res; p; p = p->ai_next) {
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
