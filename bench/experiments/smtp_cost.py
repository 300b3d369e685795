"""What one mail costs notify and the SMTP server, with a connection per mail and with kept ones.

Starts the embedded servers only, then sends `--n` mails one after another through notify's
`SmtpAdapter` to the dev SMTP server: with `max_idle=0` (a new connection per mail, as before
the eighth pass) and with the default (connections kept), twice each, and prints the CPU
milliseconds per mail of this process and of the SMTP server, and the wall time.

    PYTHONPATH=. .venv/bin/python bench/experiments/smtp_cost.py [--n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from services.launcher.stack import Stack
from services.notify.channels.email import SmtpAdapter, compose
from services.notify.model.common import Channel
from services.notify.model.delivery import OutboundMessage, OutcomeKind

SENDER = "Trung tâm Phục vụ hành chính công <no-reply@motcua.local>"


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mail(i: int) -> OutboundMessage:
    return OutboundMessage(
        delivery_id=f"d{i}", channel=Channel.EMAIL, to=f"a{i}@bench.vn",
        subject=f"Hồ sơ 000.00.30.H01-261125-{i:04d} đã được tiếp nhận",
        body="Kính gửi ông/bà Nguyễn Văn A,\n" * 20,
    )


async def run(smtp_url: str, server_pid: int, n: int) -> None:
    for label, max_idle in (("new connection", 0), ("kept", 8)) * 2:
        adapter = SmtpAdapter(smtp_url, SENDER, max_idle=max_idle)
        client, server, wall = time.process_time(), cpu_s(server_pid), time.perf_counter()
        for i in range(n):
            assert (await adapter.send(mail(i))).kind is OutcomeKind.ACCEPTED
        client, server = time.process_time() - client, cpu_s(server_pid) - server
        wall = time.perf_counter() - wall
        await adapter.close()
        print(f"{label:15} notify {1000 * client / n:5.2f} ms  SMTP server {1000 * server / n:5.2f} ms  "
              f"wall {1000 * wall / n:5.2f} ms  ({adapter.connections_opened} connections)", flush=True)
    started = time.process_time()
    for i in range(n):
        bytes(compose(SENDER, mail(i), f"<d{i}@motcua.local>"))
    print(f"building and writing one mail: {1000 * (time.process_time() - started) / n:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="motcua-smtp-"))
    stack = Stack(data_dir=root, random_ports=True, services=())
    try:
        endpoints = stack.start_servers()
        pid = stack.server("smtp").pid
        assert pid is not None
        asyncio.run(run(endpoints.smtp_url, pid, args.n))
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
