/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inventory: the guest's ports as the kernel shows them now, and their
 * protocol form (InventoryReply). */
#pragma once

#include <stdio.h>

#include "agent/guest/ports.h"
#include "drivers/udev.h"
#include "proto/vfo.pb-c.h"

typedef struct Inventory {
        Netdev *links;
        size_t n_links;
        Port *ports;
        size_t n_ports;

        /* Protocol form; strings point into 'links'. */
        Vfo__Port *msg_ports;
        Vfo__Port **msg_port_ptrs;
        Vfo__PathCounters *msg_counters;        /* 2 per port: synthetic, VF */
        char (*macs)[18];
        Vfo__InventoryReply reply;
} Inventory;

/* Reads links (rtnetlink) and drivers (udev) and groups them into ports. */
int inventory_collect(Udev *u, Inventory *ret);
/* Fills inv->reply. */
int inventory_to_reply(Inventory *inv);
void inventory_done(Inventory *inv);

/* Human-readable or JSON listing for --status. */
void inventory_print(const Inventory *inv, FILE *f, bool json);
