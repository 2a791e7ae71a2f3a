/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loss echo: the guest half of the lab's loss meter. A UDP server that sends
 * every datagram back to its sender unchanged; linked statically so it runs
 * in a bare busybox initramfs. */

/* ppoll(), recvmmsg(): normally from config.h, but these build standalone too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOSSECHO_DEFAULT_PORT 7000
/* The kernel doubles it: 32 MiB, ~10,000 small datagrams (~3 KiB of skb each
 * from an e1000e), 10 s at 1,000/s. A guest starved by its host for seconds
 * (TCG, a busy host core) receives the backlog in softirq before this
 * process runs again; with 1 MiB those were lost here (UDP RcvbufErrors),
 * not on a path, and the meter measures paths. */
#define LOSSECHO_RCVBUF (16 * 1024 * 1024)
#define LOSSECHO_BATCH 32               /* datagrams per recvmmsg(): fewer syscalls in a TCG guest */
#define LOSSECHO_MAX_DATAGRAM 65536
#define LOSSECHO_MAGIC 0x56464f4cU      /* vfo-lossmeter's */
#define LOSSECHO_EMIT_SIZE 64
#define LOSSECHO_EMIT_MAX_RATE 100000

typedef struct LossEchoSlot {
        struct sockaddr_storage peer;
        struct iovec iov;
        uint8_t data[LOSSECHO_MAX_DATAGRAM];
} LossEchoSlot;

static void lossecho_help(void) {
        printf("Usage: vfo-lossecho [--port PORT]\n"
               "       vfo-lossecho --emit A.B.C.D:PORT [--rate PPS]\n"
               "\n"
               "UDP echo server for vfo-lossmeter: sends every datagram back to its\n"
               "sender unchanged. Listens on [::]:PORT (dual-stack), or on 0.0.0.0:PORT\n"
               "when IPv6 is not available. Prints a line on stderr only when a\n"
               "vfo-lossmeter datagram did not arrive, came late, or its\n"
               "reply could not be sent.\n"
               "\n"
               "  -p, --port PORT   UDP port to listen on (default %d)\n"
               "  -e, --emit A.B.C.D:PORT\n"
               "                    instead: send sequence-numbered datagrams there, forever\n"
               "                    (for vfo-lossmeter --listen)\n"
               "  -r, --rate PPS    with --emit: datagrams per second (default 1000)\n"
               "  -h, --help        show this help\n",
               LOSSECHO_DEFAULT_PORT);
}

static int lossecho_parse_port(const char *s, uint16_t *ret) {
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 65535)
                return -EINVAL;

        *ret = (uint16_t) v;
        return 0;
}

static void lossecho_raise_rcvbuf(int fd) {
        int v = LOSSECHO_RCVBUF;

        /* SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; the guest
         * runs us as root, elsewhere fall back to what rmem_max allows. Best effort:
         * a smaller buffer only means earlier loss, which the meter reports anyway. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) >= 0)
                return;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

/* Returns a bound socket: dual-stack [::]:port, or 0.0.0.0:port without IPv6. */
static int lossecho_open(uint16_t port, int *ret_fd) {
        struct sockaddr_in6 sa6 = {
                .sin6_family = AF_INET6,
                .sin6_port = htons(port),
                .sin6_addr = IN6ADDR_ANY_INIT,
        };
        struct sockaddr_in sa4 = {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(INADDR_ANY),
        };
        int fd, zero = 0;

        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
                lossecho_raise_rcvbuf(fd);
                if (bind(fd, (struct sockaddr *) &sa6, sizeof(sa6)) >= 0) {
                        *ret_fd = fd;
                        return 0;
                }

                /* A kernel booted with ipv6.disable=1 still hands out AF_INET6 sockets on
                 * some configurations but refuses the bind: only that case falls back. */
                if (errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT) {
                        int r = -errno;

                        (void) close(fd);
                        return r;
                }
                (void) close(fd);
        } else if (errno != EAFNOSUPPORT)
                return -errno;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;

        lossecho_raise_rcvbuf(fd);
        if (bind(fd, (struct sockaddr *) &sa4, sizeof(sa4)) < 0) {
                int r = -errno;

                (void) close(fd);
                return r;
        }

        *ret_fd = fd;
        return 0;
}

/* The guest-originated stream: sequence-numbered datagrams in the loss
 * meter's format (magic, run id, seq, send time) to 'target' at 'rate' a
 * second, forever. The sequence follows the clock: a guest stopped for a
 * while (the downtime of a migration) sends what it owes at once when it
 * runs again, so a gap at the receiver is a datagram the network lost, not
 * one never sent. vfo-lossmeter --listen counts them. */
static int lossecho_emit(const char *target, unsigned rate) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        uint8_t frame[LOSSECHO_EMIT_SIZE] = {};
        uint64_t seq = 0, start, period = 1000000000ULL / rate;
        uint32_t magic = htobe32(LOSSECHO_MAGIC), run_id;
        char host[64];
        const char *colon = strrchr(target, ':');
        uint16_t port;
        struct timespec ts;
        int fd;

        if (!colon || (size_t) (colon - target) >= sizeof(host) || lossecho_parse_port(colon + 1, &port) < 0)
                return -EINVAL;
        memcpy(host, target, (size_t) (colon - target));
        host[colon - target] = 0;
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                return -EINVAL;
        sa.sin_port = htons(port);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        start = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
        run_id = htobe32((uint32_t) getpid() ^ (uint32_t) start);
        memcpy(frame, &magic, 4);
        memcpy(frame + 4, &run_id, 4);
        for (;;) {
                uint64_t now, due, t;

                (void) clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
                due = (now - start) / period + 1;
                for (; seq < due; seq++) {
                        uint64_t be_seq = htobe64(seq), be_t = htobe64(now);

                        memcpy(frame + 8, &be_seq, 8);
                        memcpy(frame + 16, &be_t, 8);
                        /* a datagram the kernel refuses is one the receiver misses */
                        (void) sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *) &sa, sizeof(sa));
                }
                t = start + seq * period;
                ts = (struct timespec) { .tv_sec = (time_t) (t / 1000000000ULL), .tv_nsec = (long) (t % 1000000000ULL) };
                (void) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
}

/* Where a datagram the meter counts lost went: one that never came here was
 * lost on its way in; one that came was lost on its way out. The echo
 * follows each meter run's sequence and says on stderr (the guest's console)
 * which numbers did not arrive, which came late (out of order), and which replies
 * the kernel refused. A line only when something is amiss. */
#define LOSSECHO_RUNS 8
typedef struct LossEchoRun {
        uint32_t id;
        uint64_t next;          /* the sequence number expected next */
        bool used;
        /* a run of late datagrams (first..last, all after 'after'), said in
         * one line when it ends: a line each would slow the echo (a serial
         * console under TCG writes some hundred lines a second) */
        bool late;
        uint64_t late_first, late_last, late_after;
} LossEchoRun;

static LossEchoRun runs[LOSSECHO_RUNS];
static unsigned runs_taken;

static bool lossecho_header(const uint8_t *p, size_t len, uint32_t *ret_id, uint64_t *ret_seq) {
        uint32_t magic, id;
        uint64_t seq;

        if (len < 16)
                return false;
        memcpy(&magic, p, 4);
        memcpy(&id, p + 4, 4);
        memcpy(&seq, p + 8, 8);
        if (be32toh(magic) != LOSSECHO_MAGIC)
                return false;
        *ret_id = be32toh(id);
        *ret_seq = be64toh(seq);
        return true;
}

static void lossecho_track(const uint8_t *p, size_t len) {
        LossEchoRun *r = NULL;
        uint64_t seq;
        uint32_t id;

        if (!lossecho_header(p, len, &id, &seq))
                return;
        for (unsigned i = 0; i < LOSSECHO_RUNS; i++)
                if (runs[i].used && runs[i].id == id)
                        r = &runs[i];
        if (!r) {
                /* a new run (the oldest one's slot): the meter counts from 0 */
                r = &runs[runs_taken++ % LOSSECHO_RUNS];
                *r = (LossEchoRun) { .id = id, .used = true };
        }
        if (seq < r->next && r->late && seq == r->late_last + 1) {
                r->late_last = seq;
                return;
        }
        if (r->late) {
                fprintf(stderr, "vfo-lossecho: run %08x: seq %llu..%llu came late (after %llu)\n", id,
                        (unsigned long long) r->late_first, (unsigned long long) r->late_last,
                        (unsigned long long) r->late_after);
                r->late = false;
        }
        if (seq > r->next)
                fprintf(stderr, "vfo-lossecho: run %08x: seq %llu..%llu did not arrive (%llu came next)\n", id,
                        (unsigned long long) r->next, (unsigned long long) seq - 1, (unsigned long long) seq);
        else if (seq < r->next) {
                r->late = true;
                r->late_first = r->late_last = seq;
                r->late_after = r->next - 1;
        }
        if (seq >= r->next)
                r->next = seq + 1;
}

static void lossecho_not_sent(const uint8_t *p, size_t len, int error) {
        uint64_t seq;
        uint32_t id;

        if (lossecho_header(p, len, &id, &seq))
                fprintf(stderr, "vfo-lossecho: run %08x: the reply to seq %llu was not sent: %s\n", id,
                        (unsigned long long) seq, strerror(error));
}

static int lossecho_run(int fd) {
        static LossEchoSlot slots[LOSSECHO_BATCH];
        struct mmsghdr msgs[LOSSECHO_BATCH];

        for (;;) {
                int n, k, done;

                memset(msgs, 0, sizeof(msgs));
                for (k = 0; k < LOSSECHO_BATCH; k++) {
                        slots[k].iov = (struct iovec) {
                                .iov_base = slots[k].data,
                                .iov_len = sizeof(slots[k].data),
                        };
                        msgs[k].msg_hdr.msg_name = &slots[k].peer;
                        msgs[k].msg_hdr.msg_namelen = sizeof(slots[k].peer);
                        msgs[k].msg_hdr.msg_iov = &slots[k].iov;
                        msgs[k].msg_hdr.msg_iovlen = 1;
                }

                n = recvmmsg(fd, msgs, LOSSECHO_BATCH, MSG_WAITFORONE, NULL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }

                /* Echo exactly what came in: same length, back to the source address. */
                for (k = 0; k < n; k++) {
                        slots[k].iov.iov_len = msgs[k].msg_len;
                        lossecho_track(slots[k].data, msgs[k].msg_len);
                }

                for (done = 0; done < n; ) {
                        int s = sendmmsg(fd, msgs + done, (unsigned) (n - done), 0);

                        if (s < 0) {
                                if (errno == EINTR)
                                        continue;
                                /* A reply we cannot send (full queue, unreachable peer) is
                                 * a lost reply; the meter counts it. Skip that datagram. */
                                lossecho_not_sent(slots[done].data, msgs[done].msg_len, errno);
                                done++;
                                continue;
                        }
                        done += s;
                }
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "port", required_argument, NULL, 'p' },
                { "emit", required_argument, NULL, 'e' },
                { "rate", required_argument, NULL, 'r' },
                { "help", no_argument,       NULL, 'h' },
                {}
        };
        uint16_t port = LOSSECHO_DEFAULT_PORT;
        const char *emit = NULL;
        unsigned long rate = 1000;
        char *end;
        int c, fd = -EBADF, r;

        while ((c = getopt_long(argc, argv, "p:e:r:h", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        if (lossecho_parse_port(optarg, &port) < 0) {
                                fprintf(stderr, "vfo-lossecho: invalid port '%s' (1-65535)\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case 'e':
                        emit = optarg;
                        break;
                case 'r':
                        errno = 0;
                        rate = strtoul(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end != '\0' || rate == 0 ||
                            rate > LOSSECHO_EMIT_MAX_RATE) {
                                fprintf(stderr, "vfo-lossecho: invalid rate '%s' (1-%d)\n", optarg,
                                        LOSSECHO_EMIT_MAX_RATE);
                                return EXIT_FAILURE;
                        }
                        break;
                case 'h':
                        lossecho_help();
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'vfo-lossecho --help'.\n");
                        return EXIT_FAILURE;
                }

        if (optind < argc) {
                fprintf(stderr, "vfo-lossecho: unexpected argument '%s'\n", argv[optind]);
                return EXIT_FAILURE;
        }

        if (emit) {
                r = lossecho_emit(emit, (unsigned) rate);
                fprintf(stderr, "vfo-lossecho: cannot send to '%s': %s\n", emit, strerror(-r));
                return EXIT_FAILURE;
        }

        r = lossecho_open(port, &fd);
        if (r < 0) {
                fprintf(stderr, "vfo-lossecho: failed to listen on UDP port %u: %s\n",
                        (unsigned) port, strerror(-r));
                return EXIT_FAILURE;
        }

        r = lossecho_run(fd);
        (void) close(fd);
        fprintf(stderr, "vfo-lossecho: receive failed: %s\n", strerror(-r));
        return EXIT_FAILURE;
}
