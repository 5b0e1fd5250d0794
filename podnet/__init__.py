"""podnet: the Kubernetes network model, emulated with Mininet on one Linux machine.

Every Pod gets its own network namespace and its own IP, reachable from every other Pod
without NAT, wired by a real CNI plugin and routed between emulated nodes by a small
controller. See README.md for the tour.
"""

__version__ = "0.1.0"

EXIT_INTERRUPTED = 130


def run() -> int:
    """The ``podnet`` command. The command line is imported here, so a Ctrl-C that comes
    while it loads is one line and exit status 130, as at any later moment."""
    import signal
    import sys

    try:
        from podnet.cli.main import main
    except KeyboardInterrupt:
        sys.stderr.write("podnet: interrupted\n")
        return EXIT_INTERRUPTED
    try:
        return main()
    finally:
        # The command has finished and said so: a Ctrl-C now (a capture stopped just as it
        # reached its count) must not turn a clean exit into death by signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
