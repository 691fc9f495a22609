/* The limit of the kernel's UDP path on this machine, for hack/bench-proxy.sh: one thread,
 * one blocking socket, every datagram sent back at once as a canned reply (the query with
 * QR set and RCODE NOERROR, so dnsperf counts it). No parsing, no cache, no allocation: any
 * DNS server on the same socket calls does at least this much work per query.
 * Build: cc -O2 -o udp-limit hack/udp-limit.c   Run: udp-limit PORT  (binds 127.0.0.1) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: udp-limit PORT\n"); return 2; }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("udp-limit: bind"); return 1; }
  unsigned char buf[4096];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n < 12) continue;
    buf[2] |= 0x80; /* QR */
    buf[3] &= 0xF0; /* RCODE NOERROR */
    sendto(s, buf, n, 0, (struct sockaddr *)&from, fl);
  }
}
