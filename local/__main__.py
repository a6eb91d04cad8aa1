"""`make run`: the hub on this machine (moto server, Salesforce emulator, local gateway, event sources)."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from local.stack import LocalStack, LocalStackConfig


def main() -> int:
    config = LocalStackConfig.from_environment()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack = LocalStack(config)
    try:
        stack.start()
    except OSError as exc:
        print(f"local stack could not start: {exc} (ports can be changed with HUB_*_PORT)", file=sys.stderr)
        stack.stop()
        return 1
    except BaseException:
        stack.stop()
        raise
    # From here Ctrl-C only asks the loop to stop: a KeyboardInterrupt landing between "ready" and the loop
    # (a busy machine) would otherwise end the process by SIGINT without stopping the stack.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(stack.describe(), flush=True)
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass
    print("stopping...", flush=True)
    stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
