/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs the fuzz target over files and directories with the normal compiler
 * (and sanitizers, when configured), so 'make check' replays the corpus.
 * --write-seeds DIR writes the seed corpus from real protocol traffic (the
 * channel target; the others build with FUZZ_NO_CHANNEL_SEEDS). */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/channel.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, unsigned *n) {
        _cleanup_free_ uint8_t *buf = NULL;
        FILE *f;
        long len;

        f = fopen(path, "re");
        if (!f)
                return log_error_errno(errno, "Failed to open '%s': %m", path);
        if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
                fclose(f);
                return log_error_errno(errno, "Failed to size '%s': %m", path);
        }
        buf = malloc((size_t) len + 1);
        if (!buf || fread(buf, 1, (size_t) len, f) != (size_t) len) {
                fclose(f);
                return log_error_errno(EIO, "Failed to read '%s'.", path);
        }
        fclose(f);

        (void) LLVMFuzzerTestOneInput(buf, (size_t) len);
        (*n)++;
        return 0;
}

static int replay_path(const char *path, unsigned *n) {
        struct dirent **names = NULL;
        struct stat st;
        int k, r = 0;

        if (stat(path, &st) < 0)
                return log_error_errno(errno, "Failed to stat '%s': %m", path);
        if (!S_ISDIR(st.st_mode))
                return replay_file(path, n);

        k = scandir(path, &names, NULL, alphasort);
        if (k < 0)
                return log_error_errno(errno, "Failed to list '%s': %m", path);
        for (int i = 0; i < k; i++) {
                if (names[i]->d_name[0] != '.' && r >= 0) {
                        _cleanup_free_ char *p = NULL;

                        if (asprintf(&p, "%s/%s", path, names[i]->d_name) < 0)
                                r = log_oom();
                        else
                                r = replay_path(p, n);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

#ifndef FUZZ_NO_CHANNEL_SEEDS
/* Writes one seed: role byte (bit 0: host receives), then the stream. */
static int write_seed(const char *dir, const char *name, uint8_t head, const Vfo__Envelope *const *msgs,
                      size_t n_msgs, bool marker_first) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return log_oom();
        f = fopen(path, "we");
        if (!f)
                return log_error_errno(errno, "Failed to create '%s': %m", path);
        fputc(head, f);
        for (size_t i = 0; i < n_msgs; i++) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;

                if (envelope_pack_frame(msgs[i], marker_first && i == 0, FRAME_MAX_DEFAULT, &buf, &len) < 0 ||
                    fwrite(buf, 1, len, f) != len) {
                        fclose(f);
                        return log_error_errno(EIO, "Failed to write '%s'.", path);
                }
        }
        if (fclose(f) != 0)
                return log_error_errno(errno, "Failed to write '%s': %m", path);
        return 0;
}

static int write_seeds(const char *dir) {
        Vfo__Capability caps[] = { VFO__CAPABILITY__CAPABILITY_NET_FAILOVER, VFO__CAPABILITY__CAPABILITY_BONDING };
        Vfo__Envelope sync = VFO__ENVELOPE__INIT, reply = VFO__ENVELOPE__INIT, inv = VFO__ENVELOPE__INIT,
                      prep = VFO__ENVELOPE__INIT, steer = VFO__ENVELOPE__INIT, changed = VFO__ENVELOPE__INIT,
                      err = VFO__ENVELOPE__INIT, ping = VFO__ENVELOPE__INIT;
        Vfo__Sync s = VFO__SYNC__INIT;
        Vfo__SyncReply sr = VFO__SYNC_REPLY__INIT;
        Vfo__InventoryReply ir = VFO__INVENTORY_REPLY__INIT;
        Vfo__Port port = VFO__PORT__INIT, *ports[] = { &port };
        Vfo__PathCounters counters = VFO__PATH_COUNTERS__INIT;
        Vfo__PrepareDetach pd = VFO__PREPARE_DETACH__INIT;
        Vfo__SteeringMoved sm = VFO__STEERING_MOVED__INIT;
        Vfo__PathChanged pc = VFO__PATH_CHANGED__INIT;
        Vfo__Error er = VFO__ERROR__INIT;
        Vfo__Ping pi = VFO__PING__INIT;
        int r;

        s.nonce = sr.nonce = 0x5eed;
        s.protocol_version = sr.protocol_version = 1;
        s.host_version = (char *) "0.1";
        sr.agent_version = (char *) "0.1";
        sr.capabilities = caps;
        sr.n_capabilities = ELEMENTSOF(caps);
        sync.id = reply.id = 0x5eed;
        sync.body_case = VFO__ENVELOPE__BODY_SYNC;
        sync.sync = &s;
        reply.body_case = VFO__ENVELOPE__BODY_SYNC_REPLY;
        reply.sync_reply = &sr;

        counters.rx_packets = 1000;
        counters.tx_bytes = 64000;
        port.mac = (char *) "52:54:00:77:00:11";
        port.synthetic_ifname = (char *) "eth0nsby";
        port.vf_ifname = (char *) "eth1";
        port.master_ifname = (char *) "eth0";
        port.datapath = VFO__DATAPATH_KIND__DATAPATH_KIND_NET_FAILOVER;
        port.active_path = VFO__PATH_KIND__PATH_KIND_VF;
        port.synthetic_link = port.vf_link = VFO__LINK_STATE__LINK_STATE_UP;
        port.synthetic_counters = port.vf_counters = &counters;
        ir.ports = ports;
        ir.n_ports = 1;
        inv.id = 2;
        inv.body_case = VFO__ENVELOPE__BODY_INVENTORY_REPLY;
        inv.inventory_reply = &ir;

        pd.mac = sm.mac = pc.mac = (char *) "52:54:00:77:00:11";
        pd.deadline_ms = 5000;
        prep.id = 3;
        prep.body_case = VFO__ENVELOPE__BODY_PREPARE_DETACH;
        prep.prepare_detach = &pd;
        sm.path = pc.path = VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
        steer.id = 4;
        steer.body_case = VFO__ENVELOPE__BODY_STEERING_MOVED;
        steer.steering_moved = &sm;
        pc.reason = VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_REQUESTED;
        pc.request_usec = 10;
        pc.switched_usec = 20;
        pc.announcements = 2;
        changed.id = 4;
        changed.body_case = VFO__ENVELOPE__BODY_PATH_CHANGED;
        changed.path_changed = &pc;
        er.code = VFO__ERROR_CODE__ERROR_CODE_RESYNC_REQUIRED;
        er.message = (char *) "frame longer than the limit";
        err.body_case = VFO__ENVELOPE__BODY_ERROR;
        err.error = &er;
        pi.timestamp_usec = 123456;
        ping.id = 5;
        ping.body_case = VFO__ENVELOPE__BODY_PING;
        ping.ping = &pi;

        {
                const Vfo__Envelope *guest_in[] = { &sync, &prep, &steer, &ping, &err };
                const Vfo__Envelope *host_in[] = { &reply, &inv, &changed, &ping, &err };

                r = write_seed(dir, "guest-session", 0x00, guest_in, ELEMENTSOF(guest_in), true);
                if (r >= 0)
                        r = write_seed(dir, "guest-session-chunked", 0x0e, guest_in, ELEMENTSOF(guest_in), true);
                if (r >= 0)
                        r = write_seed(dir, "host-session", 0x01, host_in, ELEMENTSOF(host_in), true);
                if (r >= 0)
                        r = write_seed(dir, "host-session-chunked", 0x0b, host_in, ELEMENTSOF(host_in), true);
                if (r >= 0)
                        r = write_seed(dir, "host-unmarked", 0x01, host_in + 1, 2, false);
        }
        return r;
}
#endif

int main(int argc, char *argv[]) {
        unsigned n = 0;
        int r = 0;

#ifndef FUZZ_NO_CHANNEL_SEEDS
        if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
                return write_seeds(argv[2]) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
#endif

        if (argc < 2) {
#ifdef FUZZ_CORPUS_DIR
                r = replay_path(FUZZ_CORPUS_DIR, &n);
#else
                fprintf(stderr, "Usage: %s FILE|DIR... | --write-seeds DIR\n", argv[0]);
                return EXIT_FAILURE;
#endif
        }
        for (int i = 1; i < argc && r >= 0; i++)
                r = replay_path(argv[i], &n);
        if (r < 0)
                return EXIT_FAILURE;
        if (n == 0) {
                fprintf(stderr, "No inputs found.\n");
                return EXIT_FAILURE;
        }
        printf("Replayed %u inputs without a crash.\n", n);
        return EXIT_SUCCESS;
}
