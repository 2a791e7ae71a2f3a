#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# meter-capture.py IP SEQS PCAP [IFINDEX=NAME...]: where the loss meter's datagrams to and from
# the guest at IP were seen in PCAP (tcpdump -i any, or one Ethernet link), for each sequence
# number in SEQS (comma-separated). One line per datagram: "seq N : TIME req|rep LINK PKTTYPE; ...",
# or "nowhere". LINK is a name from IFINDEX=NAME, else ifN. A request seen going out of a tap
# without a reply anywhere was lost in the guest (or in QEMU); a reply seen on a tap but not on
# the bridge, in the host.
import struct, sys
ip = bytes(int(x) for x in sys.argv[1].split('.'))
seqs = [int(s) for s in sys.argv[2].split(',') if s]
names = dict(a.split('=', 1) for a in sys.argv[4:])
want = set(seqs)
PT = {0: 'in', 1: 'bcast', 2: 'mcast', 3: 'otherhost', 4: 'out'}
def frames(path):
    with open(path, 'rb') as f:
        hdr = f.read(24)
        magic = struct.unpack('<I', hdr[:4])[0]
        e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
        ns = magic in (0xa1b23c4d, 0x4d3cb2a1)
        lt = struct.unpack(e + 'I', hdr[20:24])[0]
        while True:
            h = f.read(16)
            if len(h) < 16: return
            ts, tf, incl, orig = struct.unpack(e + 'IIII', h)
            d = f.read(incl)
            if lt == 276:       # LINUX_SLL2
                proto, _, ifi, _, pkttype = struct.unpack('>HHIHB', d[:11])
                yield ts + tf / (1e9 if ns else 1e6), names.get(str(ifi), 'if%d' % ifi), PT.get(pkttype, '?'), proto, d[20:]
            else:
                yield ts + tf / (1e9 if ns else 1e6), 'eth', '', struct.unpack('>H', d[12:14])[0], d[14:]
out = {s: [] for s in seqs}
for t, ifn, pt, proto, d in frames(sys.argv[3]):
    if proto != 0x0800 or len(d) < 20 + 8 + 16 or d[9] != 17: continue
    ihl = (d[0] & 15) * 4
    src, dst = d[12:16], d[16:20]
    pl = d[ihl + 8:]
    if len(pl) < 16 or pl[:4] != b'VFOL': continue
    seq = struct.unpack('>Q', pl[8:16])[0]
    if seq not in want: continue
    way = 'req' if dst == ip else ('rep' if src == ip else None)
    if way:
        out[seq].append((t, '%.6f %s %s %s' % (t, way, ifn, pt)))
for s in seqs:
    print('seq', s, ':', '; '.join(x[1] for x in sorted(out[s])) or 'nowhere')
