"""Helpers shared by the PyTorch peers of `multilabel bench train`."""
import resource


def peak_rss_mb():
    """This process's peak resident memory in MiB: VmHWM of /proc/self/status (the memory
    of this program only; getrusage's ru_maxrss also counts the parent's peak at the
    time it started this process, so it is the fallback where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
