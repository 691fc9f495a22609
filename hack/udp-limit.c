/* The limit of the kernel's UDP path on this machine, for hack/bench-proxy.sh: one thread,
 * one blocking socket, every datagram sent back at once as a canned reply (the query with
 * QR set and RCODE NOERROR, so dnsperf counts it). No parsing, no cache, no allocation: any
 * DNS server on the same socket calls does at least this much work per query.
 * With "mmsg", datagrams are taken and sent 32 at a time (recvmmsg, sendmmsg), to show what
 * batching system calls would save.
 * Build: cc -O2 -o udp-limit hack/udp-limit.c   Run: udp-limit PORT [mmsg]  (on 127.0.0.1) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 32
static unsigned char buf[BATCH][4096];

static void reply(unsigned char *m) {
  m[2] |= 0x80; /* QR */
  m[3] &= 0xF0; /* RCODE NOERROR */
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: udp-limit PORT [mmsg]\n"); return 2; }
  int batch = argc > 2 && strcmp(argv[2], "mmsg") == 0;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("udp-limit: bind"); return 1; }
  struct sockaddr_in from[BATCH];
  struct iovec iov[BATCH];
  struct mmsghdr m[BATCH];
  for (;;) {
    if (!batch) {
      socklen_t fl = sizeof from[0];
      ssize_t n = recvfrom(s, buf[0], sizeof buf[0], 0, (struct sockaddr *)&from[0], &fl);
      if (n < 12) continue;
      reply(buf[0]);
      sendto(s, buf[0], n, 0, (struct sockaddr *)&from[0], fl);
      continue;
    }
    memset(m, 0, sizeof m);
    for (int i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = sizeof buf[i]};
      m[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(s, m, BATCH, MSG_WAITFORONE, NULL);
    for (int i = 0; i < n; i++) {
      reply(buf[i]);
      iov[i].iov_len = m[i].msg_len < 12 ? 0 : m[i].msg_len;
    }
    if (n > 0) sendmmsg(s, m, n, 0);
  }
}
