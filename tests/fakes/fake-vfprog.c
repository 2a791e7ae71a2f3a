/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for the switch programming of drivers/vfprog.h (bridge FDB,
 * VF settings, tap queues) that needs no bridge and no privilege: every
 * call succeeds and changes nothing. For the host core's fuzz target, where
 * the kernel objects are not the subject (tests/integration/test-vfprog
 * runs the real driver against the kernel). */

#include <errno.h>

#include "drivers/vfprog.h"

void vf_settings_neutral(VfSettings *ret) {
        *ret = (VfSettings) {
                .spoofchk = true,
                .link_state = VF_LINK_STATE_AUTO,
        };
}

int vfprog_set(const char *pf_ifname, unsigned vf_index, const VfSettings *s) {
        return 0;
}

int fdb_steer(const char *port_ifname, const uint8_t mac[6], bool sticky) {
        return 0;
}

int fdb_forget(const char *port_ifname, const uint8_t mac[6]) {
        return 0;
}

int fdb_lookup(const char *bridge_ifname, const uint8_t mac[6], char ret_port[16], bool *ret_static) {
        return -ENOENT;
}

int netdev_set_queue_len(const char *ifname, uint32_t len, uint32_t *ret_old) {
        if (ret_old)
                *ret_old = 1000;
        return 0;
}

int netdev_queue_placeholder(const char *ifname, const uint8_t dst[6]) {
        return 0;
}
