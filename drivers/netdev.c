/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netdev helpers; see netdev.h. */

#include <stdio.h>

#include "drivers/netdev.h"

const char *netdev_mac_to_string(const uint8_t mac[6], char buf[static 18]) {
        (void) snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        return buf;
}
