/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loss meter: the host half of the lab's traffic check. Sends paced,
 * sequence-numbered UDP datagrams to vfo-lossecho and reports loss, duplicates,
 * reordering, the longest outage and RTT percentiles as one JSON line. */

/* ppoll(), recvmmsg(): normally from config.h, but these build standalone too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOSSMETER_MAGIC 0x56464f4cU     /* "VFOL" */
#define LOSSMETER_HEADER_SIZE 24        /* magic u32, run id u32, seq u64, send time u64 (ns) */
#define LOSSMETER_MIN_SIZE 32
#define LOSSMETER_MAX_SIZE 1472         /* 1500 MTU - IPv4 - UDP header */
#define LOSSMETER_MAX_RATE 100000
#define LOSSMETER_MAX_DURATION_S 3600.0
#define LOSSMETER_MAX_DRAIN_S 60.0
#define LOSSMETER_RCVBUF (4 * 1024 * 1024)

#define NSEC_PER_SEC UINT64_C(1000000000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_USEC UINT64_C(1000)

/* RTT histogram in µs, HDR style: exact below 2048 µs, then 1024 buckets per power of
 * two (< 0.1 % error). Covers 2^42 µs, far beyond duration + drain. */
#define RTT_EXACT 2048
#define RTT_SUB_BITS 10
#define RTT_MAX_EXP 42
#define RTT_BUCKETS (RTT_EXACT + (RTT_MAX_EXP - 11 + 1) * (1 << RTT_SUB_BITS))

typedef struct Options {
        const char *target;
        unsigned listen_port;           /* --listen: count a stream sent to us instead */
        const char *label;
        unsigned rate;                  /* datagrams per second */
        double duration_s;
        double drain_s;
        size_t size;                    /* UDP payload bytes */
        bool broadcast;
} Options;

typedef struct Meter {
        int fd;
        struct sockaddr_storage target;
        socklen_t target_len;
        uint32_t run_id;

        uint64_t planned;               /* datagrams the schedule holds: rate × duration */
        uint64_t *seen;                 /* bitmap over seq, 'planned' bits */
        uint8_t *buf;
        size_t size;

        uint64_t sent;
        uint64_t send_errors;           /* scheduled sends the kernel refused; counted as sent (lost) */
        uint64_t received;              /* unique seqs */
        uint64_t duplicated;
        uint64_t dup_seq[16];           /* the first duplicates' sequence numbers */
        uint64_t reordered;
        uint64_t highest_seq;           /* valid once received > 0 */

        bool sending;
        uint64_t send_start_ns;
        uint64_t send_end_ns;
        uint64_t last_reply_ns;         /* 0 until the first reply while sending */
        uint64_t max_gap_ns;
        uint64_t drain_ns;              /* how long the drain waited */

        uint64_t rtt_max_us;
        uint32_t *rtt_hist;
} Meter;

static volatile sig_atomic_t arg_stop = 0;

static void lossmeter_on_signal(int sig) {
        (void) sig;
        arg_stop++;
}

static uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

static struct timespec ns_to_timespec(uint64_t ns) {
        return (struct timespec) {
                .tv_sec = (time_t) (ns / NSEC_PER_SEC),
                .tv_nsec = (long) (ns % NSEC_PER_SEC),
        };
}

static size_t rtt_bucket(uint64_t us) {
        unsigned e;

        if (us < RTT_EXACT)
                return (size_t) us;

        e = 63 - (unsigned) __builtin_clzll(us);        /* >= 11 */
        if (e > RTT_MAX_EXP)
                return RTT_BUCKETS - 1;

        return RTT_EXACT + (size_t) (e - 11) * (1 << RTT_SUB_BITS) +
                (size_t) ((us >> (e - RTT_SUB_BITS)) & ((1 << RTT_SUB_BITS) - 1));
}

/* Lower bound of a bucket, in µs. */
static uint64_t rtt_bucket_value(size_t b) {
        size_t e, m;

        if (b < RTT_EXACT)
                return b;

        e = (b - RTT_EXACT) / (1 << RTT_SUB_BITS) + 11;
        m = (b - RTT_EXACT) % (1 << RTT_SUB_BITS);
        return (UINT64_C(1) << e) | ((uint64_t) m << (e - RTT_SUB_BITS));
}

/* Nearest-rank percentile from the histogram, in µs; clamped to the exact maximum. */
static uint64_t meter_rtt_percentile(const Meter *m, unsigned p) {
        uint64_t rank, cum = 0;

        if (m->received == 0)
                return 0;

        rank = (p * m->received + 99) / 100;   /* ceil(p% of n), without libm */
        if (rank < 1)
                rank = 1;

        for (size_t b = 0; b < RTT_BUCKETS; b++) {
                cum += m->rtt_hist[b];
                if (cum >= rank) {
                        uint64_t v = rtt_bucket_value(b);

                        return v < m->rtt_max_us ? v : m->rtt_max_us;
                }
        }

        return m->rtt_max_us;
}

static bool meter_seen_test_and_set(Meter *m, uint64_t seq) {
        uint64_t bit = UINT64_C(1) << (seq % 64);
        bool was = m->seen[seq / 64] & bit;

        m->seen[seq / 64] |= bit;
        return was;
}

static uint64_t meter_max_lost_run(const Meter *m) {
        uint64_t run = 0, best = 0;

        for (uint64_t seq = 0; seq < m->sent; seq++) {
                if (m->seen[seq / 64] & (UINT64_C(1) << (seq % 64))) {
                        run = 0;
                        continue;
                }
                if (++run > best)
                        best = run;
        }

        return best;
}

static void meter_note_reply_time(Meter *m, uint64_t t) {
        uint64_t from;

        if (!m->sending)
                return;

        /* The first gap runs from the first send, so a peer that never answers
         * shows as one long outage rather than none. */
        from = m->last_reply_ns > 0 ? m->last_reply_ns : m->send_start_ns;
        if (t > from && t - from > m->max_gap_ns)
                m->max_gap_ns = t - from;
        m->last_reply_ns = t;
}

/* A datagram's header: false if it is not one of ours. */
static bool parse_header(const uint8_t *p, size_t len, uint32_t *ret_run_id, uint64_t *ret_seq,
                         uint64_t *ret_sent_ns) {
        uint32_t magic, run_id;
        uint64_t seq, sent_ns;

        if (len < LOSSMETER_HEADER_SIZE)
                return false;
        memcpy(&magic, p, 4);
        memcpy(&run_id, p + 4, 4);
        memcpy(&seq, p + 8, 8);
        memcpy(&sent_ns, p + 16, 8);
        if (be32toh(magic) != LOSSMETER_MAGIC)
                return false;
        *ret_run_id = be32toh(run_id);
        *ret_seq = be64toh(seq);
        *ret_sent_ns = be64toh(sent_ns);
        return true;
}

static void meter_handle_datagram(Meter *m, const uint8_t *p, size_t len, uint64_t t) {
        uint32_t run_id;
        uint64_t seq, sent_ns, rtt_us;

        /* Strays from another run or another program: not ours to count. */
        if (!parse_header(p, len, &run_id, &seq, &sent_ns) || run_id != m->run_id)
                return;
        if (seq >= m->sent || sent_ns > t)
                return;

        if (meter_seen_test_and_set(m, seq)) {
                if (m->duplicated < (sizeof(m->dup_seq) / sizeof(m->dup_seq[0])))
                        m->dup_seq[m->duplicated] = seq;
                m->duplicated++;
                return;
        }

        if (m->received > 0 && seq < m->highest_seq)
                m->reordered++;
        if (m->received == 0 || seq > m->highest_seq)
                m->highest_seq = seq;
        m->received++;

        meter_note_reply_time(m, t);

        rtt_us = (t - sent_ns) / NSEC_PER_USEC;
        if (rtt_us > m->rtt_max_us)
                m->rtt_max_us = rtt_us;
        m->rtt_hist[rtt_bucket(rtt_us)]++;
}

/* Reads everything queued on the non-blocking socket. */
static int meter_drain_socket(Meter *m) {
        uint8_t buf[LOSSMETER_MAX_SIZE + 1];

        for (;;) {
                ssize_t n;

                n = recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        if (errno == EINTR)
                                continue;
                        /* Asynchronous ICMP errors surface here; they are not replies. */
                        if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
                                continue;
                        return -errno;
                }

                meter_handle_datagram(m, buf, (size_t) n, now_ns());
        }
}

/* Waits until replies are there or the absolute deadline passed, and handles
 * what is there: 1 if it read, 0 on the deadline or a signal. */
static int meter_receive_some(Meter *m, uint64_t deadline) {
        struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
        struct timespec ts;
        uint64_t t;
        int r;

        /* Behind schedule there is no time to wait, but replies must still be
         * read, or the receive buffer overflows and we report our own loss. */
        t = now_ns();
        if (t >= deadline) {
                r = meter_drain_socket(m);
                return r < 0 ? r : 0;
        }

        ts = ns_to_timespec(deadline - t);
        r = ppoll(&pfd, 1, &ts, NULL);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        if (r == 0)
                return 0;
        r = meter_drain_socket(m);
        return r < 0 ? r : 1;
}

/* Waits for replies until the absolute deadline, handling them as they come.
 * Returns early on a signal. */
static int meter_receive_until(Meter *m, uint64_t deadline) {
        int r;

        do
                r = meter_receive_some(m, deadline);
        while (r > 0);
        return r;
}

static int meter_send_one(Meter *m) {
        uint32_t magic = htobe32(LOSSMETER_MAGIC), run_id = htobe32(m->run_id);
        uint64_t seq = htobe64(m->sent), t = htobe64(now_ns());
        ssize_t n;

        memcpy(m->buf, &magic, 4);
        memcpy(m->buf + 4, &run_id, 4);
        memcpy(m->buf + 8, &seq, 8);
        memcpy(m->buf + 16, &t, 8);

        n = sendto(m->fd, m->buf, m->size, 0, (struct sockaddr *) &m->target, m->target_len);
        m->sent++;
        if (n >= 0)
                return 0;

        /* A slot the kernel refused is a lost datagram, not a failed measurement:
         * links go down during the scenarios this meter is for. */
        switch (errno) {
        case EAGAIN:
        case ENOBUFS:
        case ENETDOWN:
        case ENETUNREACH:
        case EHOSTUNREACH:
        case EHOSTDOWN:
        case ECONNREFUSED:
        case EINTR:
                m->send_errors++;
                return 0;
        default:
                m->sent--;
                return -errno;
        }
}

static int meter_run(Meter *m, const Options *o) {
        uint64_t deadline, start, cap, quiet;
        int r;

        /* The schedule is absolute (start + seq × interval), so lateness in one slot
         * never accumulates into a lower rate. */
        m->sending = true;
        m->send_start_ns = now_ns();
        while (m->sent < m->planned && arg_stop == 0) {
                uint64_t next = m->send_start_ns + m->sent * NSEC_PER_SEC / o->rate;
                struct timespec ts;

                r = meter_receive_until(m, next);
                if (r < 0)
                        return r;
                if (arg_stop != 0)
                        break;

                /* ppoll()'s relative timeout only gets us close; finish on the clock. */
                if (now_ns() < next) {
                        ts = ns_to_timespec(next);
                        r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                        if (r == EINTR)
                                continue;
                        if (r != 0)
                                return -r;
                }

                r = meter_send_one(m);
                if (r < 0)
                        return r;
        }

        /* The last slot lasts one interval too: a run ends at start + duration. */
        if (arg_stop == 0) {
                r = meter_receive_until(m, m->send_start_ns + m->planned * NSEC_PER_SEC / o->rate);
                if (r < 0)
                        return r;
        }
        m->send_end_ns = now_ns();

        /* An outage lasting to the end of the run is still an outage. */
        if (m->sent > 0) {
                uint64_t from = m->last_reply_ns > 0 ? m->last_reply_ns : m->send_start_ns;

                if (m->send_end_ns > from && m->send_end_ns - from > m->max_gap_ns)
                        m->max_gap_ns = m->send_end_ns - from;
        }
        m->sending = false;

        /* Drain: late replies still count. It ends once every reply is in, or
         * after 'drain' seconds without one: a peer still answering is late,
         * not lost (a starved guest's echo can lag by seconds behind a deep
         * socket buffer). At most LOSSMETER_MAX_DRAIN_S in all; a second
         * signal cuts it short. */
        start = now_ns();
        cap = start + (uint64_t) (LOSSMETER_MAX_DRAIN_S * (double) NSEC_PER_SEC);
        quiet = (uint64_t) (o->drain_s * (double) NSEC_PER_SEC);
        deadline = start + quiet;
        for (sig_atomic_t stops = arg_stop; m->received < m->sent && arg_stop <= stops; ) {
                uint64_t before = m->received, t;

                r = meter_receive_some(m, deadline);
                if (r < 0)
                        return r;
                t = now_ns();
                if (m->received > before)
                        deadline = t + quiet < cap ? t + quiet : cap;
                else if (r == 0 && t >= deadline)
                        break;
        }
        m->drain_ns = now_ns() - start;

        return 0;
}

static void json_print_string(const char *s) {
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

#define LOSSMETER_LOST_AT_MAX 16

static void meter_print_json(const Meter *m, const Options *o) {
        printf("{\"label\":");
        json_print_string(o->label);
        printf(",\"rate\":%u", o->rate);
        printf(",\"duration_s\":%.3f", (double) (m->send_end_ns - m->send_start_ns) / (double) NSEC_PER_SEC);
        printf(",\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64,
               m->sent, m->received, m->sent - m->received);
        printf(",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64,
               m->duplicated, m->reordered);
        printf(",\"max_gap_ms\":%.3f", (double) m->max_gap_ns / (double) NSEC_PER_MSEC);
        printf(",\"max_lost_run\":%" PRIu64, meter_max_lost_run(m));
        printf(",\"rtt_p50_ms\":%.3f", (double) meter_rtt_percentile(m, 50) / 1000.0);
        printf(",\"rtt_p99_ms\":%.3f", (double) meter_rtt_percentile(m, 99) / 1000.0);
        printf(",\"rtt_max_ms\":%.3f", (double) m->rtt_max_us / 1000.0);
        printf(",\"send_errors\":%" PRIu64, m->send_errors);
        printf(",\"drain_ms\":%.0f", (double) m->drain_ns / (double) NSEC_PER_MSEC);
        /* Where the first losses were, in ms after the first send (seq / rate):
         * a scenario lines them up with its own timeline. */
        printf(",\"lost_at_ms\":[");
        for (uint64_t seq = 0, n = 0; seq < m->sent && n < LOSSMETER_LOST_AT_MAX; seq++)
                if (!(m->seen[seq / 64] & (UINT64_C(1) << (seq % 64))))
                        printf("%s%.1f", n++ ? "," : "", (double) seq * 1000.0 / (double) o->rate);
        printf("],\"dup_at_ms\":[");
        for (uint64_t i = 0; i < m->duplicated && i < (sizeof(m->dup_seq) / sizeof(m->dup_seq[0])); i++)
                printf("%s%.1f", i ? "," : "", (double) m->dup_seq[i] * 1000.0 / (double) o->rate);
        printf("]}\n");
        fflush(stdout);
}

/* --listen: the other direction. A sender elsewhere (vfo-lossecho --emit)
 * sends sequence-numbered datagrams in our format; we count the stream of
 * the first run id we see: received, lost (the holes between the first and
 * the highest sequence number), duplicated, reordered, and the longest time
 * without a datagram. */
typedef struct Listener {
        uint32_t run_id;
        bool started;
        uint64_t first_seq, highest_seq, window;
        uint64_t *seen;                 /* bitmap over seq - first_seq, 'window' bits */
        uint64_t received, duplicated, reordered, beyond;
        uint64_t first_ns, last_ns, max_gap_ns;
} Listener;

static void listener_handle(Listener *l, const uint8_t *p, size_t len, uint64_t t) {
        uint32_t run_id;
        uint64_t seq, sent_ns, off, bit;

        if (!parse_header(p, len, &run_id, &seq, &sent_ns))
                return;
        if (!l->started) {
                l->started = true;
                l->run_id = run_id;
                l->first_seq = l->highest_seq = seq;
                l->first_ns = l->last_ns = t;
        }
        if (run_id != l->run_id || seq < l->first_seq)
                return;
        off = seq - l->first_seq;
        if (off >= l->window) {
                l->beyond++;            /* more than the window holds: not counted */
                return;
        }
        bit = UINT64_C(1) << (off % 64);
        if (l->seen[off / 64] & bit) {
                l->duplicated++;
                return;
        }
        l->seen[off / 64] |= bit;
        if (seq < l->highest_seq)
                l->reordered++;
        else
                l->highest_seq = seq;
        l->received++;
        if (t - l->last_ns > l->max_gap_ns)
                l->max_gap_ns = t - l->last_ns;
        l->last_ns = t;
}

static int listener_run(const Options *o) {
        struct sockaddr_in6 sa = {
                .sin6_family = AF_INET6,
                .sin6_port = htons((uint16_t) o->listen_port),
                .sin6_addr = IN6ADDR_ANY_INIT,
        };
        Listener l = {};
        uint8_t buf[LOSSMETER_MAX_SIZE];
        uint64_t start = now_ns(), end, missing;
        int fd, zero = 0, rcvbuf = LOSSMETER_RCVBUF, r = 0;

        l.window = (uint64_t) ((o->duration_s + 1.0) * LOSSMETER_MAX_RATE);
        l.seen = calloc((l.window + 63) / 64, sizeof(uint64_t));
        if (!l.seen)
                return -ENOMEM;
        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                free(l.seen);
                return -errno;
        }
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                goto finish;
        }
        end = start + (uint64_t) (o->duration_s * (double) NSEC_PER_SEC);
        while (arg_stop == 0) {
                uint64_t now = now_ns();
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                struct timespec left;
                ssize_t n;

                if (now >= end)
                        break;
                left = ns_to_timespec(end - now);
                if (ppoll(&pfd, 1, &left, NULL) < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                while ((n = recv(fd, buf, sizeof(buf), 0)) >= 0)
                        listener_handle(&l, buf, (size_t) n, now_ns());
                if (errno != EAGAIN && errno != EINTR) {
                        r = -errno;
                        break;
                }
        }
        if (r >= 0) {
                end = now_ns();
                missing = l.started ? l.highest_seq - l.first_seq + 1 - l.received : 0;
                printf("{\"label\":");
                json_print_string(o->label);
                printf(",\"listened_s\":%.3f,\"received\":%" PRIu64 ",\"lost\":%" PRIu64
                       ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"max_gap_ms\":%.3f"
                       ",\"tail_ms\":%.3f,\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64
                       ",\"beyond_window\":%" PRIu64 "}\n",
                       (double) (end - start) / (double) NSEC_PER_SEC, l.received, missing, l.duplicated,
                       l.reordered, (double) l.max_gap_ns / (double) NSEC_PER_MSEC,
                       l.started ? (double) (end - l.last_ns) / (double) NSEC_PER_MSEC : 0.0, l.first_seq,
                       l.highest_seq, l.beyond);
                fflush(stdout);
        }
finish:
        (void) close(fd);
        free(l.seen);
        return r;
}

/* Parses "A.B.C.D:PORT" or "[V6]:PORT" (numeric only; "%ifname" scopes allowed). */
static int parse_target(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC,
                .ai_socktype = SOCK_DGRAM,
                .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
        };
        struct addrinfo *ai = NULL;
        char host[256];
        const char *port;
        size_t hl;
        int r;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');

                if (!close || close[1] != ':')
                        return -EINVAL;
                hl = (size_t) (close - s - 1);
                if (hl == 0 || hl >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, hl);
                host[hl] = '\0';
                port = close + 2;
                hints.ai_family = AF_INET6;
        } else {
                const char *colon = strrchr(s, ':');

                if (!colon || strchr(s, ':') != colon)
                        return -EINVAL;
                hl = (size_t) (colon - s);
                if (hl == 0 || hl >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s, hl);
                host[hl] = '\0';
                port = colon + 1;
                hints.ai_family = AF_INET;
        }

        if (strspn(port, "0123456789") != strlen(port) || strlen(port) == 0 ||
            strlen(port) > 5 || atoi(port) < 1 || atoi(port) > 65535)
                return -EINVAL;

        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0 || !ai)
                return -EINVAL;

        memcpy(ret, ai->ai_addr, ai->ai_addrlen);
        *ret_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
}

static int parse_double(const char *s, double min, double max, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max)
                return -EINVAL;

        *ret = v;
        return 0;
}

static int parse_unsigned(const char *s, unsigned long min, unsigned long max, unsigned long *ret) {
        unsigned long v;
        char *end;

        if (s[0] == '-')
                return -EINVAL;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
                return -EINVAL;

        *ret = v;
        return 0;
}

static void lossmeter_help(void) {
        printf("Usage: vfo-lossmeter --target ADDR:PORT [OPTIONS]\n"
               "       vfo-lossmeter --listen PORT [--duration SEC] [--label TEXT]\n"
               "\n"
               "Sends paced, sequence-numbered UDP datagrams to vfo-lossecho and prints one\n"
               "JSON line: sent, received, lost, duplicated, reordered, max_gap_ms,\n"
               "max_lost_run, rtt_p50_ms, rtt_p99_ms, rtt_max_ms, send_errors, lost_at_ms and\n"
               "dup_at_ms (the send times of the first 16 losses and duplicates, ms after the\n"
               "first send), drain_ms (how long it waited for late replies).\n"
               "SIGINT/SIGTERM end sending early (a second one ends the drain); the\n"
               "results are still printed. Loss is not an error: exit 0 unless the\n"
               "measurement itself failed.\n"
               "\n"
               "  -t, --target ADDR:PORT  echo address, e.g. 10.0.0.2:7000 or [fd00::2]:7000\n"
               "  -r, --rate PPS          datagrams per second, 1-%d (default 1000)\n"
               "  -d, --duration SEC      sending time, > 0 and <= %.0f (default 10)\n"
               "      --drain SEC         after sending, wait for late replies until none came\n"
               "                          for SEC, 0-%.0f (default 1); %.0f s at most in all\n"
               "  -s, --size BYTES        UDP payload size, %d-%d (default 64)\n"
               "  -b, --broadcast         allow a broadcast target (replies from any address)\n"
               "  -l, --label TEXT        copied into the JSON as \"label\"\n"
               "      --listen PORT       instead: count the stream vfo-lossecho --emit sends\n"
               "                          to this UDP port for --duration (or until SIGTERM):\n"
               "                          received, lost, duplicated, reordered, max_gap_ms,\n"
               "                          tail_ms (since the last datagram)\n"
               "  -h, --help              show this help\n",
               LOSSMETER_MAX_RATE, LOSSMETER_MAX_DURATION_S, LOSSMETER_MAX_DRAIN_S, LOSSMETER_MAX_DRAIN_S,
               LOSSMETER_MIN_SIZE, LOSSMETER_MAX_SIZE);
}

static int parse_argv(int argc, char *argv[], Options *o) {
        enum {
                ARG_DRAIN = 0x100,
                ARG_LISTEN,
        };
        static const struct option options[] = {
                { "target",    required_argument, NULL, 't'       },
                { "rate",      required_argument, NULL, 'r'       },
                { "duration",  required_argument, NULL, 'd'       },
                { "drain",     required_argument, NULL, ARG_DRAIN },
                { "size",      required_argument, NULL, 's'       },
                { "broadcast", no_argument,       NULL, 'b'       },
                { "label",     required_argument, NULL, 'l'       },
                { "listen",    required_argument, NULL, ARG_LISTEN },
                { "help",      no_argument,       NULL, 'h'       },
                {}
        };
        unsigned long v;
        int c;

        while ((c = getopt_long(argc, argv, "t:r:d:s:bl:h", options, NULL)) >= 0)
                switch (c) {
                case 't':
                        o->target = optarg;
                        break;
                case 'r':
                        if (parse_unsigned(optarg, 1, LOSSMETER_MAX_RATE, &v) < 0) {
                                fprintf(stderr, "vfo-lossmeter: invalid --rate '%s' (1-%d)\n",
                                        optarg, LOSSMETER_MAX_RATE);
                                return -EINVAL;
                        }
                        o->rate = (unsigned) v;
                        break;
                case 'd':
                        if (parse_double(optarg, 0, LOSSMETER_MAX_DURATION_S, &o->duration_s) < 0 ||
                            o->duration_s <= 0) {
                                fprintf(stderr, "vfo-lossmeter: invalid --duration '%s' (> 0, <= %.0f)\n",
                                        optarg, LOSSMETER_MAX_DURATION_S);
                                return -EINVAL;
                        }
                        break;
                case ARG_DRAIN:
                        if (parse_double(optarg, 0, LOSSMETER_MAX_DRAIN_S, &o->drain_s) < 0) {
                                fprintf(stderr, "vfo-lossmeter: invalid --drain '%s' (0-%.0f)\n",
                                        optarg, LOSSMETER_MAX_DRAIN_S);
                                return -EINVAL;
                        }
                        break;
                case 's':
                        if (parse_unsigned(optarg, LOSSMETER_MIN_SIZE, LOSSMETER_MAX_SIZE, &v) < 0) {
                                fprintf(stderr, "vfo-lossmeter: invalid --size '%s' (%d-%d)\n",
                                        optarg, LOSSMETER_MIN_SIZE, LOSSMETER_MAX_SIZE);
                                return -EINVAL;
                        }
                        o->size = v;
                        break;
                case 'b':
                        o->broadcast = true;
                        break;
                case 'l':
                        o->label = optarg;
                        break;
                case ARG_LISTEN:
                        if (parse_unsigned(optarg, 1, 65535, &v) < 0) {
                                fprintf(stderr, "vfo-lossmeter: invalid --listen '%s' (1-65535)\n", optarg);
                                return -EINVAL;
                        }
                        o->listen_port = (unsigned) v;
                        break;
                case 'h':
                        lossmeter_help();
                        return 0;
                default:
                        fprintf(stderr, "Try 'vfo-lossmeter --help'.\n");
                        return -EINVAL;
                }

        if (optind < argc) {
                fprintf(stderr, "vfo-lossmeter: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (!o->target && o->listen_port == 0) {
                fprintf(stderr, "vfo-lossmeter: --target ADDR:PORT or --listen PORT is required\n");
                return -EINVAL;
        }

        return 1;
}

static int meter_open_socket(Meter *m, const Options *o) {
        int fd, one = 1, rcvbuf = LOSSMETER_RCVBUF;

        fd = socket(m->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;

        /* Deliberately not connect()ed: replies to a broadcast come from the guest's
         * unicast address, which a connected socket would filter out. */
        if (o->broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0) {
                int r = -errno;

                (void) close(fd);
                return r;
        }

        /* Best effort: replies pile up while we sleep towards the next slot. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

        m->fd = fd;
        return 0;
}

static void meter_done(Meter *m) {
        if (m->fd >= 0)
                (void) close(m->fd);
        free(m->seen);
        free(m->buf);
        free(m->rtt_hist);
}

int main(int argc, char *argv[]) {
        Options o = {
                .label = "",
                .rate = 1000,
                .duration_s = 10.0,
                .drain_s = 1.0,
                .size = 64,
        };
        Meter m = {
                .fd = -EBADF,
        };
        struct sigaction sa = {
                .sa_handler = lossmeter_on_signal,
        };
        int r;

        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        if (o.listen_port > 0) {
                struct sigaction la = { .sa_handler = lossmeter_on_signal };

                sigemptyset(&la.sa_mask);
                (void) sigaction(SIGINT, &la, NULL);
                (void) sigaction(SIGTERM, &la, NULL);
                r = listener_run(&o);
                if (r < 0) {
                        fprintf(stderr, "vfo-lossmeter: listening on UDP port %u failed: %s\n", o.listen_port,
                                strerror(-r));
                        return EXIT_FAILURE;
                }
                return EXIT_SUCCESS;
        }

        r = parse_target(o.target, &m.target, &m.target_len);
        if (r < 0) {
                fprintf(stderr, "vfo-lossmeter: invalid --target '%s': expected A.B.C.D:PORT or [IPV6]:PORT\n",
                        o.target);
                return EXIT_FAILURE;
        }

        /* Bounded by the option limits: at most 100000 × 3600 bits = 45 MB. */
        m.planned = (uint64_t) ((double) o.rate * o.duration_s + 0.5);
        if (m.planned == 0)
                m.planned = 1;
        m.size = o.size;
        m.seen = calloc((m.planned + 63) / 64, sizeof(uint64_t));
        m.buf = calloc(1, o.size);
        m.rtt_hist = calloc(RTT_BUCKETS, sizeof(uint32_t));
        if (!m.seen || !m.buf || !m.rtt_hist) {
                fprintf(stderr, "vfo-lossmeter: out of memory\n");
                meter_done(&m);
                return EXIT_FAILURE;
        }

        if (getrandom(&m.run_id, sizeof(m.run_id), 0) != sizeof(m.run_id))
                m.run_id = (uint32_t) getpid() ^ (uint32_t) now_ns();

        r = meter_open_socket(&m, &o);
        if (r < 0) {
                fprintf(stderr, "vfo-lossmeter: failed to open UDP socket: %s\n", strerror(-r));
                meter_done(&m);
                return EXIT_FAILURE;
        }

        /* No SA_RESTART: the signal must break ppoll()/clock_nanosleep(). */
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);

        r = meter_run(&m, &o);
        if (r == -EACCES && !o.broadcast)
                fprintf(stderr, "vfo-lossmeter: sending to %s refused; a broadcast address needs --broadcast\n",
                        o.target);
        if (r < 0) {
                fprintf(stderr, "vfo-lossmeter: measurement to %s failed: %s\n", o.target, strerror(-r));
                meter_done(&m);
                return EXIT_FAILURE;
        }

        /* The JSON shows it as duration_s; say why here, where a human looks. */
        if (arg_stop == 0 && m.send_end_ns - m.send_start_ns >
            m.planned * NSEC_PER_SEC / o.rate * 101 / 100 + 10 * NSEC_PER_MSEC)
                fprintf(stderr, "vfo-lossmeter: could not keep up with %u pps: sending took %.3f s instead of %.3f s\n",
                        o.rate, (double) (m.send_end_ns - m.send_start_ns) / (double) NSEC_PER_SEC,
                        (double) m.planned / o.rate);

        meter_print_json(&m, &o);
        meter_done(&m);
        return EXIT_SUCCESS;
}
