"""The whole machine's CPU, memory, disk and network, sampled beside the tasks.

So that interference between concurrent tasks (and with anything else on the machine) can
be seen: node.csv has one row per tick. Disk and network counters are cumulative since the
run started, like the task counters.
"""

from __future__ import annotations

import os
from pathlib import Path

SECTOR_BYTES = 512


def _cpu_jiffies() -> tuple[int, int, int]:
    """(busy, iowait, total) jiffies over all CPUs."""
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    total = sum(fields[:8])  # guest time is already inside user
    return total - idle - iowait, iowait, total


def _memory() -> tuple[int, int]:
    info: dict[str, int] = {}
    with open("/proc/meminfo", "rb") as f:
        for line in f:
            key, _, rest = line.partition(b":")
            info[key.decode()] = int(rest.split()[0]) * 1024
    used = info["MemTotal"] - info.get("MemAvailable", info["MemFree"])
    return used, info.get("Cached", 0) + info.get("Buffers", 0)


def _whole_disks() -> set[str]:
    """Block devices that are disks, not partitions, loops or RAM disks (no double count)."""
    names = set()
    for entry in Path("/sys/block").iterdir() if Path("/sys/block").exists() else []:
        if not entry.name.startswith(("loop", "ram", "zram")):
            names.add(entry.name)
    return names


def _disk_bytes(disks: set[str]) -> tuple[int, int]:
    read = written = 0
    with open("/proc/diskstats", "rb") as f:
        for line in f:
            parts = line.split()
            if parts[2].decode() in disks:
                read += int(parts[5]) * SECTOR_BYTES
                written += int(parts[9]) * SECTOR_BYTES
    return read, written


def _net_bytes() -> tuple[int, int]:
    rx = tx = 0
    with open("/proc/net/dev", "rb") as f:
        for line in f.readlines()[2:]:
            name, _, rest = line.partition(b":")
            if name.strip() == b"lo":
                continue
            values = rest.split()
            rx += int(values[0])
            tx += int(values[8])
    return rx, tx


class NodeProbe:
    """Turns the machine's cumulative counters into one node.csv row per call."""

    def __init__(self, run_id: str, start_mono: float) -> None:
        self.run_id = run_id
        self.start_mono = start_mono
        self.disks = _whole_disks()
        self.cores = os.cpu_count() or 1
        self._last_cpu = _cpu_jiffies()
        self._disk0 = _disk_bytes(self.disks)
        self._net0 = _net_bytes()

    def sample(self, mono: float, wall: float) -> dict[str, object]:
        busy, iowait, total = _cpu_jiffies()
        last_busy, last_iowait, last_total = self._last_cpu
        self._last_cpu = (busy, iowait, total)
        span = max(total - last_total, 1)  # jiffies of all CPUs over the interval
        used, cache = _memory()
        disk = _disk_bytes(self.disks)
        net = _net_bytes()
        return {
            "run_id": self.run_id, "timestamp": round(wall, 6),
            "elapsed_s": round(mono - self.start_mono, 6),
            "cpu_cores": round(self.cores * (busy - last_busy) / span, 4),
            "cpu_iowait_cores": round(self.cores * (iowait - last_iowait) / span, 4),
            "memory_used_bytes": used, "memory_cache_bytes": cache,
            "disk_read_bytes": disk[0] - self._disk0[0],
            "disk_write_bytes": disk[1] - self._disk0[1],
            "net_rx_bytes": net[0] - self._net0[0], "net_tx_bytes": net[1] - self._net0[1],
        }

