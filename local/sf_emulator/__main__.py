"""python -m local.sf_emulator [--port N] [--state-file PATH]: run the emulator until interrupted."""

from __future__ import annotations

import argparse
import signal
import threading

from . import EmulatorConfig, start_emulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.sf_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--state-file", default=None, help="load at start, save on change and at stop")
    parser.add_argument("--daily-api-limit", type=int, default=100_000)
    args = parser.parse_args(argv)
    emulator = start_emulator(
        EmulatorConfig(host=args.host, port=args.port, state_file=args.state_file, daily_api_limit=args.daily_api_limit)
    )
    print(f"url={emulator.url}", flush=True)
    print(f"ca_path={emulator.ca_path}", flush=True)
    print(f"org_id={emulator.org_id}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
