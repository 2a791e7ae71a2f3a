/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for the switch programming of drivers/vfprog.h (bridge FDB,
 * VF settings, tap queues) that needs no bridge and no privilege: every
 * call succeeds and changes nothing, unless the test asked for a failure
 * (fake-vfprog.h: one kind of call on one interface). For the host core's
 * unit tests and its fuzz target, where the kernel objects are not the
 * subject (tests/integration/test-vfprog runs the real driver against the
 * kernel). */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "drivers/vfprog.h"
#include "tests/fakes/fake-vfprog.h"

static struct {
        char ifname[64];
        int error;
        unsigned failed;
} fail[_FAKE_VFPROG_CALL_MAX];
static char last_steer[64];     /* the port of the last fdb_steer() that succeeded */
static struct {
        char ifname[64];
        uint64_t value, step;
} taps[8];                      /* fake_vfprog_tap_drops() */
static FakeForwardLink forward; /* the last forward_link_add() */
static unsigned n_forward_links; /* forward links now */
static char mirror_tap[64], mirror_tunnel[64]; /* the last forward_mirror_add() */
static unsigned n_mirrors;      /* taps copied now */

void fake_vfprog_fail(FakeVfprogCall call, const char *ifname, int error) {
        if ((unsigned) call >= _FAKE_VFPROG_CALL_MAX)
                return;
        snprintf(fail[call].ifname, sizeof(fail[call].ifname), "%s", ifname ?: "");
        fail[call].error = error;
}

void fake_vfprog_reset(void) {
        memset(fail, 0, sizeof(fail));
        last_steer[0] = 0;
        memset(taps, 0, sizeof(taps));
        memset(&forward, 0, sizeof(forward));
        n_forward_links = 0;
        mirror_tap[0] = mirror_tunnel[0] = 0;
        n_mirrors = 0;
}

unsigned fake_vfprog_failed(FakeVfprogCall call) {
        return (unsigned) call < _FAKE_VFPROG_CALL_MAX ? fail[call].failed : 0;
}

/* The error the test asked for this call, or 0. */
static int fake_result(FakeVfprogCall call, const char *ifname) {
        if (fail[call].error == 0 || !ifname || strcmp(fail[call].ifname, ifname) != 0)
                return 0;
        fail[call].failed++;
        return fail[call].error;
}

void vf_settings_neutral(VfSettings *ret) {
        *ret = (VfSettings) {
                .spoofchk = true,
                .link_state = VF_LINK_STATE_AUTO,
        };
}

int vfprog_set(const char *pf_ifname, unsigned vf_index, const VfSettings *s) {
        return fake_result(FAKE_VFPROG_SET, pf_ifname);
}

const char *fake_vfprog_last_steer(void) {
        return last_steer;
}

int fdb_steer(const char *port_ifname, const uint8_t mac[6], bool sticky) {
        int r = fake_result(FAKE_VFPROG_FDB_STEER, port_ifname);

        if (r == 0)
                snprintf(last_steer, sizeof(last_steer), "%s", port_ifname ?: "");
        return r;
}

int fdb_forget(const char *port_ifname, const uint8_t mac[6]) {
        return fake_result(FAKE_VFPROG_FDB_FORGET, port_ifname);
}

int fdb_lookup(const char *bridge_ifname, const uint8_t mac[6], char ret_port[16], bool *ret_static) {
        return -ENOENT;
}

int netdev_set_queue_len(const char *ifname, uint32_t len, uint32_t *ret_old) {
        if (ret_old)
                *ret_old = 1000;
        return 0;
}

void fake_vfprog_tap_drops(const char *ifname, uint64_t step) {
        for (size_t i = 0; i < sizeof(taps) / sizeof(taps[0]); i++)
                if (!taps[i].ifname[0] || strcmp(taps[i].ifname, ifname) == 0) {
                        snprintf(taps[i].ifname, sizeof(taps[i].ifname), "%s", ifname);
                        taps[i].step = step;
                        return;
                }
}

int netdev_tx_dropped(const char *ifname, uint64_t *ret) {
        for (size_t i = 0; i < sizeof(taps) / sizeof(taps[0]) && taps[i].ifname[0]; i++)
                if (strcmp(taps[i].ifname, ifname) == 0) {
                        *ret = taps[i].value;
                        taps[i].value += taps[i].step;
                        return 0;
                }
        return -ENODEV;
}

void fake_vfprog_vf_drops(const char *pf_ifname, unsigned vf_index, uint64_t step) {
        char key[64];

        snprintf(key, sizeof(key), "%s#%u", pf_ifname, vf_index);
        fake_vfprog_tap_drops(key, step);
}

int vf_dropped(const char *pf_ifname, unsigned vf_index, uint64_t *ret) {
        char key[64];

        snprintf(key, sizeof(key), "%s#%u", pf_ifname, vf_index);
        return netdev_tx_dropped(key, ret);
}

int netdev_queue_placeholder(const char *ifname, const uint8_t dst[6]) {
        return 0;
}

int netdev_queue_drain_marker(const char *ifname, const uint8_t dst[6]) {
        return 0;
}

const FakeForwardLink *fake_vfprog_last_forward(void) {
        return &forward;
}

unsigned fake_vfprog_forward_links(void) {
        return n_forward_links;
}

int forward_link_add(const char *ifname, const char *bridge, const char *redirect_to, uint32_t vni,
                     const char *local, const char *remote, uint16_t port) {
        int r = fake_result(FAKE_VFPROG_FORWARD_ADD, ifname);

        if (r < 0)
                return r;
        snprintf(forward.ifname, sizeof(forward.ifname), "%s", ifname);
        snprintf(forward.bridge, sizeof(forward.bridge), "%s", bridge ?: "");
        snprintf(forward.redirect_to, sizeof(forward.redirect_to), "%s", redirect_to ?: "");
        snprintf(forward.local, sizeof(forward.local), "%s", local);
        snprintf(forward.remote, sizeof(forward.remote), "%s", remote);
        forward.vni = vni;
        forward.port = port;
        n_forward_links++;
        return 0;
}

int forward_link_del(const char *ifname) {
        if (n_forward_links == 0)
                return -ENODEV;
        n_forward_links--;
        return 0;
}

int forward_mirror_add(const char *tap, const char *tunnel) {
        int r = fake_result(FAKE_VFPROG_MIRROR_ADD, tap);

        if (r < 0)
                return r;
        snprintf(mirror_tap, sizeof(mirror_tap), "%s", tap);
        snprintf(mirror_tunnel, sizeof(mirror_tunnel), "%s", tunnel);
        n_mirrors++;
        return 0;
}

int forward_mirror_del(const char *tap) {
        if (n_mirrors == 0)
                return -ENOENT;
        n_mirrors--;
        return 0;
}

const char *fake_vfprog_mirror_tap(void) {
        return mirror_tap;
}

const char *fake_vfprog_mirror_tunnel(void) {
        return mirror_tunnel;
}

unsigned fake_vfprog_mirrors(void) {
        return n_mirrors;
}

int netdev_add_clsact(const char *ifname) {
        return 0;
}
