/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a test can ask of tests/fakes/fake-vfprog.c: a call of the switch
 * programming that fails, to make a job fail at the phase that makes it. */
#pragma once

#include <stdint.h>

typedef enum FakeVfprogCall {
        FAKE_VFPROG_SET,                /* vfprog_set(): the PF's name */
        FAKE_VFPROG_FDB_STEER,          /* fdb_steer(): the port the MAC is pinned to */
        FAKE_VFPROG_FDB_FORGET,         /* fdb_forget(): the port the pin is dropped from */
        FAKE_VFPROG_FORWARD_ADD,        /* forward_link_add(): the link's name */
        FAKE_VFPROG_MIRROR_ADD,         /* forward_mirror_add(): the tap's name */
        _FAKE_VFPROG_CALL_MAX,
} FakeVfprogCall;

/* From now on every 'call' on the interface 'ifname' fails with 'error'
 * (a negative errno); 'error' 0 makes them succeed again. */
void fake_vfprog_fail(FakeVfprogCall call, const char *ifname, int error);
/* Every call succeeds again, and the counts are zero. */
void fake_vfprog_reset(void);
/* How many times 'call' failed as asked since the last reset. */
unsigned fake_vfprog_failed(FakeVfprogCall call);
/* The port the last fdb_steer() that succeeded pinned a MAC to ("" none since the reset). */
const char *fake_vfprog_last_steer(void);

/* netdev_tx_dropped() of 'ifname' answers 0 at first, and 'step' more at
 * each read after (a tap that drops while it is read); any other interface
 * has no counter (-ENODEV). Up to 8 interfaces. */
void fake_vfprog_tap_drops(const char *ifname, uint64_t step);

/* vf_dropped() of VF 'vf_index' of 'pf_ifname' the same way (it shares
 * the 8 places); any other VF has no counter (-ENODEV). */
void fake_vfprog_vf_drops(const char *pf_ifname, unsigned vf_index, uint64_t step);

/* What the last forward_link_add() that succeeded was asked. */
typedef struct FakeForwardLink {
        char ifname[16];
        char bridge[16];        /* the source's end: its bridge ("" none) */
        char redirect_to[64];   /* the destination's end: the tap it delivers into ("" none) */
        char local[64];
        char remote[64];
        uint32_t vni;
        uint16_t port;
} FakeForwardLink;
const FakeForwardLink *fake_vfprog_last_forward(void);
/* How many forward links there are now (added and not deleted). */
unsigned fake_vfprog_forward_links(void);
/* The tap that forward_mirror_add() last copied into a tunnel ("" none),
 * that tunnel, and how many taps are copied now (added and not deleted). */
const char *fake_vfprog_mirror_tap(void);
const char *fake_vfprog_mirror_tunnel(void);
unsigned fake_vfprog_mirrors(void);
