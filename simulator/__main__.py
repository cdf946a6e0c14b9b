"""python -m simulator: serve a seeded Microsoft 365 simulator over HTTPS until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
from pathlib import Path

from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--users", type=int, default=SimulatorSettings.users, help="employees in the tenant")
    parser.add_argument("--port", type=int, default=8443, help="TCP port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--seed", type=int, default=SimulatorSettings.seed, help="seed for the generated tenant")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the certificates go (kept between runs); a temporary directory if omitted")
    parser.add_argument("--token-lifetime", type=int, default=SimulatorSettings.access_token_lifetime,
                        help="access token lifetime in seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def export_lines(server: SimulatorServer) -> list[str]:
    """`export NAME=value` lines for a POSIX shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in server.env().items()]


def _announce(server: SimulatorServer) -> None:
    settings = server.sim.settings
    print(f"# Microsoft 365 simulator at {server.base_url}: tenant {settings.tenant_domain}, "
          f"{settings.users} users, seed {settings.seed}")
    print(f"# Sign in on the consent page as {settings.admin_upn} / {settings.admin_password}")
    print(f"# Registered redirect URIs (loopback: any port): {', '.join(settings.redirect_uris)}")
    print("# Point the portal at it:")
    print("\n".join(export_lines(server)), flush=True)


def _interrupt(signum, frame) -> None:
    # SIGTERM (from a test or a process manager) stops as cleanly as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Start the simulator, print where it is, serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = SimulatorSettings(users=args.users, seed=args.seed, access_token_lifetime=args.token_lifetime)
    server = SimulatorServer(Simulator(settings), host=args.host, port=args.port, state_dir=args.state_dir)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
    except OSError as exc:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        _announce(server)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
