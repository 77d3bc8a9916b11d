"""How much memory this process may still use, read without torch (``/proc/meminfo``, the
address-space limit and the cgroup limit): for checks made before anything big is built by
code that does not load the model (e.g. the PSD export)."""

from __future__ import annotations

import os

FALLBACK_MEMORY_BYTES = 4 << 30  # when the available memory cannot be read


def process_memory_limit() -> int:
    """Bytes this process may still allocate under its address-space limit (``RLIMIT_AS``,
    ``ulimit -v``) and its cgroup's memory limit; a very large number when there is none."""
    limits = [1 << 62]
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            with open("/proc/self/status", encoding="ascii") as f:
                vm = next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmSize:"))
            limits.append(max(0, soft - vm))
    except (ImportError, OSError, ValueError, StopIteration, IndexError):
        pass
    for max_file, cur_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                               ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(max_file, encoding="ascii") as f:
                text = f.read().strip()
            if text == "max":
                break
            with open(cur_file, encoding="ascii") as f:
                limits.append(max(0, int(text) - int(f.read().strip())))
            break
        except (OSError, ValueError):
            continue
    return min(limits)


def system_memory_available() -> int:
    """Bytes of main memory this process may use: the system's ``MemAvailable`` (Linux),
    else half the physical memory, else :data:`FALLBACK_MEMORY_BYTES`; never more than
    :func:`process_memory_limit`."""
    limit = process_memory_limit()
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return min(int(line.split()[1]) * 1024, limit)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return min(int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2, limit)
    except (AttributeError, ValueError, OSError):
        return min(FALLBACK_MEMORY_BYTES, limit)
