/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod.conf: values, defaults, and errors that name file and line. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/host/config.h"

/* Parses 'text' as a file named "vfod.conf". */
static int parse(const char *text, Config **ret, char **ret_message) {
        FILE *f;
        int r;

        /* fmemopen() of 0 bytes may fail with EINVAL. */
        if (*text)
                f = fmemopen((void *) text, strlen(text), "r");
        else
                f = fopen("/dev/null", "re");
        assert_non_null(f);
        r = config_parse(f, "vfod.conf", ret, ret_message);
        fclose(f);
        return r;
}

static void test_config_defaults(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        const char *texts[] = { "", "# nothing\n\n; here\n", "[Daemon]\n" };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                char *msg = NULL;

                assert_int_equal(parse(texts[i], &c, &msg), 0);
                assert_null(msg);
                assert_non_null(c);
                assert_null(c->libvirt_uri);
                assert_string_equal(c->state_directory, "/var/lib/vfo");
                assert_null(c->default_pool);
                assert_int_equal(c->preempt_margin, 10);
                assert_int_equal(c->reassign_interval, 30 * USEC_PER_SEC);
                assert_int_equal(c->agent_timeout, 10 * USEC_PER_SEC);
                assert_int_equal(c->unplug_timeout, 20 * USEC_PER_SEC);
                assert_int_equal(c->libvirt_timeout, 45 * USEC_PER_SEC);
                assert_int_equal(c->no_agent, NO_AGENT_REFUSE);
                assert_int_equal(c->abrupt_fallback, DETACH_REASON_ALL);
                assert_string_equal(c->group, "vfo");
                /* No pool at all is allowed: nothing to hand out. */
                assert_int_equal(c->n_pools, 0);
                assert_null(config_default_pool(c));
                assert_null(config_find_pool(c, NULL));
                assert_null(config_find_pool(c, "lab"));
                c = config_free(c);
        }
}

static void test_config_abrupt_fallback(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *msg = NULL;

        assert_int_equal(parse("[Daemon]\nAbruptFallback=preempt migrate\n", &c, NULL), 0);
        assert_int_equal(c->abrupt_fallback, DETACH_REASON_PREEMPT | DETACH_REASON_MIGRATE);
        c = config_free(c);
        assert_int_equal(parse("[Daemon]\nAbruptFallback=none\n", &c, NULL), 0);
        assert_int_equal(c->abrupt_fallback, 0);
        c = config_free(c);
        assert_int_equal(parse("[Daemon]\nAbruptFallback=none\nAbruptFallback=\n", &c, NULL), 0);
        assert_int_equal(c->abrupt_fallback, DETACH_REASON_ALL);
        c = config_free(c);
        assert_int_equal(parse("[Daemon]\nAbruptFallback=user\tpolicy recovery\n", &c, NULL), 0);
        assert_int_equal(c->abrupt_fallback, DETACH_REASON_USER | DETACH_REASON_POLICY | DETACH_REASON_RECOVERY);
        c = config_free(c);
        assert_int_equal(parse("[Daemon]\nAbruptFallback=drain\n", &c, NULL), 0);
        assert_int_equal(c->abrupt_fallback, DETACH_REASON_DRAIN);
        assert_true(DETACH_REASON_ALL & DETACH_REASON_DRAIN);   /* the default has it */
        c = config_free(c);
        assert_int_equal(parse("[Daemon]\n\nAbruptFallback=preempt never\n", &c, &msg), -EINVAL);
        assert_non_null(strstr(msg, ":3:"));
        assert_non_null(strstr(msg, "'never'"));
}

static void test_config_pool_defaults(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        const PoolConfig *p;

        assert_int_equal(parse("[Pool a]\nType=sriov\nPFs=eth0\n"
                               "[Pool b]\nType=emulated\nBridge=br0\nCount=2\n",
                               &c, NULL),
                         0);
        assert_int_equal(c->n_pools, 2);

        p = config_find_pool(c, "a");
        assert_ptr_equal(p, &c->pools[0]);
        assert_string_equal(p->name, "a");
        assert_int_equal(p->type, POOL_TYPE_SRIOV);
        assert_int_equal(p->n_pfs, 1);
        assert_string_equal(p->pfs[0], "eth0");
        assert_null(p->pfs[1]);
        assert_int_equal(p->n_vfs, 0);
        assert_null(p->vfs);
        assert_int_equal(p->vlan, 0);
        assert_true(p->spoofchk);
        assert_false(p->trust);
        assert_int_equal(p->steering, STEERING_SWITCH);
        assert_string_equal(p->bridge, "");
        assert_string_equal(p->model, "e1000e");

        p = config_find_pool(c, "b");
        assert_int_equal(p->type, POOL_TYPE_EMULATED);
        assert_int_equal(p->steering, STEERING_BRIDGE);
        assert_string_equal(p->bridge, "br0");
        assert_int_equal(p->count, 2);
        assert_string_equal(p->model, "e1000e");

        /* Without DefaultPool= the first pool is the default. */
        assert_ptr_equal(config_default_pool(c), &c->pools[0]);
        assert_ptr_equal(config_find_pool(c, NULL), &c->pools[0]);
}

static void test_config_full(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        const PoolConfig *p;
        char *msg = NULL;

        assert_int_equal(parse("# vfod.conf\n"
                               "[Daemon]\n"
                               "LibvirtURI = qemu+ssh://root@kvm1/system\n"
                               "StateDirectory=/run/vfo-test\n"
                               "DefaultPool=lab\n"
                               "PreemptMargin=0\n"
                               "ReassignIntervalSec=0.5\n"
                               "AgentTimeoutSec=2.25\n"
                               "UnplugTimeoutSec=3600\n"
                               "LibvirtTimeoutSec=0.25\n"
                               "NoAgent=abrupt\n"
                               "AdminGroup=netadm\n"
                               "ForwardAddress=fd00::7\n"
                               "ForwardPort=8472\n"
                               "ForwardCopies=yes\n"
                               "\n"
                               "[Pool fast-1.x]\n"
                               "Type=sriov\n"
                               "PFs=enp3s0f0   enp3s0f1\n"
                               "VFs=0000:03:00.2\t0000:03:00.3\n"
                               "VFs=0000:81:0A.7\n"
                               "VLAN=4094\n"
                               "SpoofCheck=no\n"
                               "Trust=On\n"
                               "Steering=bridge\n"
                               "Bridge=br-fast\n"
                               "\n"
                               "[Pool lab]\n"
                               "Type=emulated\n"
                               "Bridge=vfobr0\n"
                               "Count=4096\n"
                               "Model=igb\n"
                               "Steering=bridge\n"
                               "[Daemon]\n"
                               "PreemptMargin=1000\n",
                               &c, &msg),
                         0);
        assert_null(msg);

        assert_string_equal(c->libvirt_uri, "qemu+ssh://root@kvm1/system");
        assert_string_equal(c->state_directory, "/run/vfo-test");
        assert_string_equal(c->default_pool, "lab");
        assert_int_equal(c->preempt_margin, 1000);
        assert_int_equal(c->reassign_interval, 500 * USEC_PER_MSEC);
        assert_int_equal(c->agent_timeout, 2250 * USEC_PER_MSEC);
        assert_int_equal(c->unplug_timeout, 3600 * USEC_PER_SEC);
        assert_int_equal(c->libvirt_timeout, 250 * USEC_PER_MSEC);
        assert_int_equal(c->no_agent, NO_AGENT_ABRUPT);
        assert_string_equal(c->group, "netadm");
        assert_string_equal(c->forward_address, "fd00::7");
        assert_int_equal(c->forward_port, 8472);
        assert_true(c->forward_copies);
        assert_int_equal(c->n_pools, 2);

        p = config_find_pool(c, "fast-1.x");
        assert_non_null(p);
        assert_int_equal(p->type, POOL_TYPE_SRIOV);
        assert_int_equal(p->n_pfs, 2);
        assert_string_equal(p->pfs[0], "enp3s0f0");
        assert_string_equal(p->pfs[1], "enp3s0f1");
        assert_null(p->pfs[2]);
        /* VFs= adds to the list; addresses are kept in lower case, like sysfs. */
        assert_int_equal(p->n_vfs, 3);
        assert_string_equal(p->vfs[0], "0000:03:00.2");
        assert_string_equal(p->vfs[1], "0000:03:00.3");
        assert_string_equal(p->vfs[2], "0000:81:0a.7");
        assert_null(p->vfs[3]);
        assert_int_equal(p->vlan, 4094);
        assert_false(p->spoofchk);
        assert_true(p->trust);
        assert_int_equal(p->steering, STEERING_BRIDGE);
        assert_string_equal(p->bridge, "br-fast");

        p = config_find_pool(c, "lab");
        assert_non_null(p);
        assert_int_equal(p->type, POOL_TYPE_EMULATED);
        assert_int_equal(p->steering, STEERING_BRIDGE);
        assert_string_equal(p->bridge, "vfobr0");
        assert_int_equal(p->count, 4096);
        assert_string_equal(p->model, "igb");

        assert_ptr_equal(config_default_pool(c), p);
        assert_ptr_equal(config_find_pool(c, NULL), p);
        assert_null(config_find_pool(c, "Lab"));
}

static void test_config_empty_resets(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        const PoolConfig *p;

        assert_int_equal(parse("[Daemon]\n"
                               "LibvirtURI=test:///default\nLibvirtURI=\n"
                               "StateDirectory=/x\nStateDirectory=\n"
                               "DefaultPool=p\nDefaultPool=\n"
                               "PreemptMargin=5\nPreemptMargin=\n"
                               "AgentTimeoutSec=1\nAgentTimeoutSec=\n"
                               "NoAgent=abrupt\nNoAgent=\n"
                               "AdminGroup=wheel\nAdminGroup=\n"
                               "ForwardAddress=10.0.0.1\nForwardAddress=\n"
                               "ForwardPort=1\nForwardPort=\n"
                               "[Pool p]\n"
                               "Type=sriov\n"
                               "PFs=eth0\nPFs=\nPFs=eth1\n"
                               "VFs=0000:00:01.0\nVFs=\n"
                               "Trust=yes\nTrust=\n"
                               "SpoofCheck=0\nSpoofCheck=\n"
                               "VLAN=7\nVLAN=\n",
                               &c, NULL),
                         0);
        assert_null(c->libvirt_uri);
        assert_string_equal(c->state_directory, "/var/lib/vfo");
        assert_null(c->default_pool);
        assert_int_equal(c->preempt_margin, 10);
        assert_int_equal(c->agent_timeout, 10 * USEC_PER_SEC);
        assert_int_equal(c->no_agent, NO_AGENT_REFUSE);
        assert_string_equal(c->group, "vfo");
        assert_null(c->forward_address);
        assert_int_equal(c->forward_port, 4789);
        assert_false(c->forward_copies);
        p = config_find_pool(c, "p");
        assert_int_equal(p->n_pfs, 1);
        assert_string_equal(p->pfs[0], "eth1");
        assert_int_equal(p->n_vfs, 0);
        assert_false(p->trust);
        assert_true(p->spoofchk);
        assert_int_equal(p->vlan, 0);
}

static void test_config_booleans(void **state) {
        static const struct {
                const char *value;
                bool expected;
        } cases[] = {
                { "yes", true }, { "no", false }, { "true", true }, { "false", false },
                { "1", true },   { "0", false },  { "on", true },   { "OFF", false },
                { "y", true },   { "N", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                char text[128];

                snprintf(text, sizeof(text), "[Pool p]\nType=sriov\nVFs=0000:00:01.0\nTrust=%s\n",
                         cases[i].value);
                assert_int_equal(parse(text, &c, NULL), 0);
                assert_int_equal(c->pools[0].trust, cases[i].expected);
        }
}

static void test_config_errors_name_the_line(void **state) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                /* sections */
                { "[Daemon]\nLibvirtUri=qemu:///system\n", ":2: unknown key 'LibvirtUri' in [Daemon]" },
                { "\n[Deamon]\n", ":2: unknown section [Deamon] (expected [Daemon] or [Pool NAME])" },
                { "[Daemon]\n[Bogus]\nA=b\n",
                  ":2: unknown section [Bogus] (expected [Daemon] or [Pool NAME])" },
                { "[Bogus]\n\njunk\n", ":1: unknown section [Bogus] (expected [Daemon] or [Pool NAME])" },
                { "[Pool]\nType=sriov\n", ":1: [Pool NAME] needs a pool name, e.g. [Pool lab]" },
                { "[Pool bad/name]\n",
                  ":1: invalid pool name 'bad/name': 1..63 characters of A-Z, a-z, 0-9, '_', '.', '-'" },
                { "[Pool a b]\n",
                  ":1: invalid pool name 'a b': 1..63 characters of A-Z, a-z, 0-9, '_', '.', '-'" },
                { "[Pool 0123456789012345678901234567890123456789012345678901234567890123]\n",
                  ":1: invalid pool name '0123456789012345678901234567890123456789012345678901234567890123': "
                  "1..63 characters of A-Z, a-z, 0-9, '_', '.', '-'" },
                { "[Pool a]\nType=emulated\nBridge=br0\nCount=1\n\n[Pool a]\n",
                  ":6: duplicate pool 'a' (first defined on line 1)" },
                { "[Pool a]\nType=emulated\nBridge=br0\nCount=1\n[Pool b]\n[Pool a]\nCount=2\n",
                  ":6: duplicate pool 'a' (first defined on line 1)" },
                { "[Pool a]\nType=sriov\nVFs=0000:00:01.0\nColor=red\n",
                  ":4: unknown key 'Color' in [Pool a]" },
                /* keyfile syntax */
                { "[Daemon]\njunk\n", ":2: expected Key=Value, got 'junk'" },
                { "NoAgent=refuse\n", ":1: assignment outside of a section" },
                { "[Daemon\n", ":1: invalid section header '[Daemon'" },
                /* [Daemon] values */
                { "[Daemon]\nLibvirtURI=system\n",
                  ":2: LibvirtURI= must be a libvirt URI such as qemu:///system, got 'system'" },
                { "[Daemon]\nLibvirtURI=qemu:///sys tem\n",
                  ":2: LibvirtURI= must be a libvirt URI such as qemu:///system, got 'qemu:///sys tem'" },
                { "[Daemon]\nStateDirectory=var/lib/vfo\n",
                  ":2: StateDirectory= needs an absolute path, got 'var/lib/vfo'" },
                { "[Daemon]\nDefaultPool=a/b\n",
                  ":2: DefaultPool= must be a pool name "
                  "(1..63 characters of A-Z, a-z, 0-9, '_', '.', '-'), got 'a/b'" },
                { "[Daemon]\nPreemptMargin=1001\n", ":2: PreemptMargin= must be 0..1000, got '1001'" },
                { "[Daemon]\nPreemptMargin=-1\n", ":2: PreemptMargin= must be 0..1000, got '-1'" },
                { "[Daemon]\nReassignIntervalSec=0\n",
                  ":2: ReassignIntervalSec= must be seconds, more than 0 and at most 3600, "
                  "to the microsecond (e.g. 30 or 0.5), got '0'" },
                { "[Daemon]\nAgentTimeoutSec=3600.5\n",
                  ":2: AgentTimeoutSec= must be seconds, more than 0 and at most 3600, to the microsecond "
                  "(e.g. 30 or 0.5), got '3600.5'" },
                { "[Daemon]\nAgentTimeoutSec=0.0000001\n",
                  ":2: AgentTimeoutSec= must be seconds, more than 0 and at most 3600, to the microsecond "
                  "(e.g. 30 or 0.5), got '0.0000001'" },
                { "[Daemon]\nLibvirtTimeoutSec=0\n",
                  ":2: LibvirtTimeoutSec= must be seconds, more than 0 and at most 3600, to the microsecond "
                  "(e.g. 30 or 0.5), got '0'" },
                { "[Daemon]\nUnplugTimeoutSec=20s\n",
                  ":2: UnplugTimeoutSec= must be seconds, more than 0 and at most 3600, to the microsecond "
                  "(e.g. 30 or 0.5), got '20s'" },
                { "[Daemon]\nUnplugTimeoutSec=.5\n",
                  ":2: UnplugTimeoutSec= must be seconds, more than 0 and at most 3600, to the microsecond "
                  "(e.g. 30 or 0.5), got '.5'" },
                { "[Daemon]\nNoAgent=maybe\n", ":2: NoAgent= must be refuse or abrupt, got 'maybe'" },
                { "[Daemon]\nAdminGroup=9vfo\n",
                  ":2: AdminGroup= must be a group name (1..32 characters of A-Z, a-z, 0-9, "
                  "'_', '.', '-', not starting with a digit, '.' or '-'), got '9vfo'" },
                { "[Daemon]\nForwardAddress=host-b\n",
                  ":2: ForwardAddress= must be an IPv4 or IPv6 address of this host, got 'host-b'" },
                { "[Daemon]\nForwardAddress=10.0.0.1/24\n",
                  ":2: ForwardAddress= must be an IPv4 or IPv6 address of this host, got '10.0.0.1/24'" },
                { "[Daemon]\nForwardPort=0\n", ":2: ForwardPort= must be a UDP port, 1..65535, got '0'" },
                { "[Daemon]\nForwardCopies=maybe\n",
                  ":2: ForwardCopies= must be a boolean (yes/no, true/false, on/off, 1/0), got 'maybe'" },
                { "[Daemon]\nForwardPort=65536\n", ":2: ForwardPort= must be a UDP port, 1..65535, got '65536'" },
                /* [Pool] values */
                { "[Pool a]\nType=vf\n", ":2: Type= must be sriov or emulated, got 'vf'" },
                { "[Pool a]\nType=\n", ":2: Type= must be sriov or emulated, got ''" },
                { "[Pool a]\nType=sriov\nPFs=eth0 eth/1\n",
                  ":3: PFs= needs interface names (1..15 bytes, no '/', ':' or white space), got 'eth/1'" },
                { "[Pool a]\nType=sriov\nPFs=eth0\nPFs=eth1 eth0\n", ":4: PFs= lists 'eth0' twice" },
                { "[Pool a]\nType=sriov\nVFs=03:00.2\n",
                  ":3: VFs= needs PCI addresses DDDD:BB:DD.F in hex (e.g. 0000:03:00.2), got '03:00.2'" },
                { "[Pool a]\nType=sriov\nVFs=0000:03:20.0\n",
                  ":3: VFs= needs PCI addresses DDDD:BB:DD.F in hex (e.g. 0000:03:00.2), got "
                  "'0000:03:20.0'" },
                { "[Pool a]\nType=sriov\nVFs=0000:03:00.8\n",
                  ":3: VFs= needs PCI addresses DDDD:BB:DD.F in hex (e.g. 0000:03:00.2), got "
                  "'0000:03:00.8'" },
                { "[Pool a]\nType=sriov\nVFs=0000:03:0g.0\n",
                  ":3: VFs= needs PCI addresses DDDD:BB:DD.F in hex (e.g. 0000:03:00.2), got "
                  "'0000:03:0g.0'" },
                { "[Pool a]\nType=sriov\nVFs=0000:03:00.2 0000:03:00.2\n",
                  ":3: VFs= lists '0000:03:00.2' twice" },
                { "[Pool a]\nType=sriov\nVFs=0000:03:0a.2\n[Pool b]\nType=sriov\nVFs=0000:03:0A.2\n",
                  ":6: VF '0000:03:0a.2' is already in [Pool a]" },
                { "[Pool a]\nType=sriov\nPFs=eth0\n[Pool b]\nType=sriov\n\nPFs=eth1 eth0\n",
                  ":7: PF 'eth0' is already in [Pool a]" },
                { "[Pool a]\nType=sriov\nVLAN=4095\n", ":3: VLAN= must be 0..4094 (0: none), got '4095'" },
                { "[Pool a]\nType=sriov\nSpoofCheck=maybe\n",
                  ":3: SpoofCheck= must be a boolean (yes/no, true/false, on/off, 1/0), got 'maybe'" },
                { "[Pool a]\nType=sriov\nTrust=2\n",
                  ":3: Trust= must be a boolean (yes/no, true/false, on/off, 1/0), got '2'" },
                { "[Pool a]\nType=sriov\nSteering=hub\n",
                  ":3: Steering= must be switch or bridge, got 'hub'" },
                { "[Pool a]\nType=emulated\nBridge=a-very-long-bridge\n",
                  ":3: Bridge= needs an interface name (1..15 bytes, no '/', ':' or white space), got "
                  "'a-very-long-bridge'" },
                { "[Pool a]\nType=emulated\nCount=0\n", ":3: Count= must be 1..4096, got '0'" },
                { "[Pool a]\nType=emulated\nCount=4097\n", ":3: Count= must be 1..4096, got '4097'" },
                { "[Pool a]\nType=emulated\nModel=E1000\n",
                  ":3: Model= must be 1..31 characters of a-z, 0-9, '_', '-' (e.g. e1000e), got 'E1000'" },
                /* checks after parsing name the pool's header */
                { "[Daemon]\n\n[Pool lab]\nType=emulated\nCount=2\n",
                  ":3: [Pool lab] Type=emulated needs Bridge=" },
                { "[Pool lab]\nType=emulated\nBridge=br0\n", ":1: [Pool lab] Type=emulated needs Count=" },
                { "[Pool lab]\nType=emulated\nBridge=br0\nCount=1\n[Pool x]\nType=sriov\n",
                  ":5: [Pool x] Type=sriov needs PFs= or VFs=" },
                { "[Pool x]\nType=sriov\nPFs=eth0\nPFs=\n", ":1: [Pool x] Type=sriov needs PFs= or VFs=" },
                { "\n\n[Pool x]\nType=sriov\nPFs=eth0\nSteering=bridge\n",
                  ":3: [Pool x] Steering=bridge needs Bridge=" },
                { "[Pool x]\nType=sriov\nPFs=eth0\nBridge=br0\n",
                  ":1: [Pool x] Bridge= is used only with Steering=bridge (or Type=emulated)" },
                { "[Pool x]\nPFs=eth0\n", ":1: [Pool x] needs Type=sriov or Type=emulated" },
                { "[Pool x]\n", ":1: [Pool x] needs Type=sriov or Type=emulated" },
                { "[Pool x]\nType=emulated\nBridge=br0\nCount=1\nPFs=eth0\n",
                  ":1: [Pool x] PFs= applies only to Type=sriov" },
                { "[Pool x]\nType=emulated\nBridge=br0\nCount=1\nVLAN=0\n",
                  ":1: [Pool x] VLAN= applies only to Type=sriov" },
                { "[Pool x]\nType=emulated\nBridge=br0\nCount=1\nSteering=switch\n",
                  ":1: [Pool x] Type=emulated always steers with its bridge, Steering=switch is for "
                  "Type=sriov" },
                { "[Pool x]\nType=sriov\nPFs=eth0\nCount=3\n",
                  ":1: [Pool x] Count= applies only to Type=emulated" },
                { "[Pool x]\nType=sriov\nPFs=eth0\nModel=igb\n",
                  ":1: [Pool x] Model= applies only to Type=emulated" },
                { "[Daemon]\nDefaultPool=lab\n",
                  ":2: DefaultPool=lab names no pool: there is no [Pool lab]" },
                { "[Pool Lab]\nType=emulated\nBridge=br0\nCount=1\n[Daemon]\n\nDefaultPool=lab\n",
                  ":7: DefaultPool=lab names no pool: there is no [Pool lab]" },
                /* the first error wins */
                { "[Daemon]\nNoAgent=x\nPreemptMargin=x\n",
                  ":2: NoAgent= must be refuse or abrupt, got 'x'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *msg = NULL;

                if (parse(cases[i].text, &c, &msg) >= 0)
                        fail_msg("case %zu parsed: %s", i, cases[i].text);
                assert_null(c);
                assert_non_null(msg);
                assert_int_equal(strncmp(msg, "vfod.conf:", 10), 0);
                if (strcmp(msg + strlen("vfod.conf"), cases[i].message) != 0)
                        fail_msg("case %zu: got '%s', want 'vfod.conf%s'", i, msg, cases[i].message);
        }
}

static void test_config_nul_byte(void **state) {
        static const char text[] = "[Daemon]\nNoAgent=refuse\0\n";
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *msg = NULL;
        FILE *f = fmemopen((void *) text, sizeof(text) - 1, "r");

        assert_non_null(f);
        assert_int_equal(config_parse(f, "vfod.conf", &c, &msg), -EBADMSG);
        fclose(f);
        assert_string_equal(msg, "vfod.conf: contains a NUL byte");
}

static void test_config_load(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *msg = NULL, *path = NULL;
        const char *tmpdir = getenv("TMPDIR");
        FILE *f;
        int fd;

        assert_int_equal(config_load("/nonexistent/vfod.conf", &c, &msg), -ENOENT);
        assert_null(c);
        assert_string_equal(msg, "/nonexistent/vfod.conf: No such file or directory");
        msg = mfree(msg);

        assert_true(asprintf(&path, "%s/vfod-conf.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp") > 0);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fputs("[Pool lab]\nType=emulated\nBridge=vfobr0\nCount=2\n", f);
        assert_int_equal(fclose(f), 0);

        assert_int_equal(config_load(path, &c, &msg), 0);
        assert_null(msg);
        assert_int_equal(c->n_pools, 1);
        assert_string_equal(config_default_pool(c)->name, "lab");
        c = config_free(c);

        /* Errors name the file by the path it was loaded from. */
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("[Pool lab]\nType=emulated\nBridge=vfobr0\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(config_load(path, &c, &msg), -EINVAL);
        assert_null(c);
        assert_int_equal(strncmp(msg, path, strlen(path)), 0);
        assert_string_equal(msg + strlen(path), ":1: [Pool lab] Type=emulated needs Count=");
        assert_int_equal(unlink(path), 0);
}

#ifdef VFOD_CONF_EXAMPLE
/* The shipped example parses. */
static void test_config_example(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *msg = NULL;
        int r;

        r = config_load(VFOD_CONF_EXAMPLE, &c, &msg);
        if (r < 0)
                fail_msg("%s", msg ? msg : strerror(-r));
        assert_int_equal(c->n_pools, 1);
        assert_int_equal(c->pools[0].type, POOL_TYPE_EMULATED);
}
#endif

static void test_config_strings(void **state) {
        assert_string_equal(pool_type_to_string(POOL_TYPE_SRIOV), "sriov");
        assert_string_equal(pool_type_to_string(POOL_TYPE_EMULATED), "emulated");
        assert_null(pool_type_to_string(_POOL_TYPE_MAX));
        assert_int_equal(pool_type_from_string("emulated"), POOL_TYPE_EMULATED);
        /* Unknown strings give a negative errno (lib/string-table.h), not only _INVALID. */
        assert_true(pool_type_from_string("SRIOV") < 0);
        assert_string_equal(steering_kind_to_string(STEERING_BRIDGE), "bridge");
        assert_int_equal(steering_kind_from_string("switch"), STEERING_SWITCH);
        assert_true(steering_kind_from_string(NULL) < 0);
        assert_string_equal(no_agent_policy_to_string(NO_AGENT_ABRUPT), "abrupt");
        assert_int_equal(no_agent_policy_from_string("refuse"), NO_AGENT_REFUSE);
        assert_null(no_agent_policy_to_string(_NO_AGENT_POLICY_INVALID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_defaults),
                cmocka_unit_test(test_config_abrupt_fallback),
                cmocka_unit_test(test_config_pool_defaults),
                cmocka_unit_test(test_config_full),
                cmocka_unit_test(test_config_empty_resets),
                cmocka_unit_test(test_config_booleans),
                cmocka_unit_test(test_config_errors_name_the_line),
                cmocka_unit_test(test_config_nul_byte),
                cmocka_unit_test(test_config_load),
#ifdef VFOD_CONF_EXAMPLE
                cmocka_unit_test(test_config_example),
#endif
                cmocka_unit_test(test_config_strings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
