#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""TCP across a migration, from the traffic peer: one connection to the
guest's sink (vfo.tcpsink=PORT), written at a steady --rate; every 5 ms the
kernel's TCP_INFO of the connection. Prints one JSON line when --duration
is over or at SIGTERM: bytes written and acknowledged, the longest time the
acknowledged bytes did not move while data was outstanding (the stall, ms),
and the retransmissions (tcpi_total_retrans).

  tcpmeter.py --target A.B.C.D:PORT [--rate BYTES_PER_S] [--duration S] [--label TEXT]
"""
import argparse
import json
import signal
import socket
import struct
import sys
import time

# struct tcp_info (linux/tcp.h): tcpi_unacked at 24, tcpi_total_retrans at
# 100 (u32), tcpi_bytes_acked at 120 (u64)
TCP_INFO_LEN = 232
stop = False


def on_term(signum, frame):
    global stop
    stop = True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", required=True)
    p.add_argument("--rate", type=int, default=256 * 1024)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--label", default="")
    a = p.parse_args()
    host, port = a.target.rsplit(":", 1)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    s = socket.create_connection((host, int(port)), timeout=5)
    s.setblocking(False)
    chunk = b"\0" * 1400
    start = time.monotonic()
    written = 0
    acked = 0
    retrans = 0
    last_progress = start
    max_stall = 0.0
    while not stop and time.monotonic() - start < a.duration:
        now = time.monotonic()
        due = int((now - start) * a.rate)
        while written < due:
            try:
                n = s.send(chunk[:min(len(chunk), due - written)])
            except (BlockingIOError, InterruptedError):
                break
            written += n
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)
        unacked = struct.unpack_from("I", info, 24)[0]
        retrans = struct.unpack_from("I", info, 100)[0]
        now_acked = struct.unpack_from("Q", info, 120)[0]
        if now_acked > acked:
            acked = now_acked
            last_progress = now
        elif unacked > 0 or written > acked:
            max_stall = max(max_stall, now - last_progress)
        else:
            last_progress = now
        time.sleep(0.005)
    print(json.dumps({"label": a.label, "duration_s": round(time.monotonic() - start, 3),
                      "bytes_written": written, "bytes_acked": acked,
                      "max_stall_ms": round(max_stall * 1000.0, 1), "retrans": retrans}), flush=True)
    s.close()


if __name__ == "__main__":
    sys.exit(main())
