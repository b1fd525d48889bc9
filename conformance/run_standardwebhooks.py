#!/usr/bin/env python3
"""Runs the conformance cases the Python `standardwebhooks` library can express through
that library, and fails unless it reaches the expected verdict on every one: the suite's
answers do not depend on webhook-kit.

    python3 -m pip install standardwebhooks
    python3 conformance/run_standardwebhooks.py [conformance/standard-webhooks.json]
"""

import json
import sys
from datetime import datetime
from pathlib import Path

from standardwebhooks import webhooks


def frozen_clock(now: int):
    """A `datetime` whose `now()` is the case's clock (the library reads the real one)."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(now, tz=tz)

    return Frozen


def main() -> int:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("standard-webhooks.json"))
    suite = json.loads(path.read_text())
    ran = disagreed = 0
    for case in suite["cases"]:
        if not case["python_standardwebhooks"]:
            continue
        ran += 1
        webhooks.datetime = frozen_clock(case["now"])
        try:
            webhooks.Webhook(case["secrets"][0]).verify(
                bytes.fromhex(case["body_hex"]), dict(case["headers"]), json_parse=False
            )
            valid = True
        except Exception:  # the library raises several kinds on a refused delivery
            valid = False
        if valid != case["expected"]["valid"]:
            disagreed += 1
            print(f"DISAGREE {case['name']}: standardwebhooks says valid={valid}, the suite {case['expected']}")
    # The plain closing line test harnesses read: agreeing cases pass, disagreeing fail.
    print(f"standardwebhooks: {ran - disagreed} passed, {disagreed} failed")
    if ran == 0:
        print("no case run")
        return 1
    return 1 if disagreed else 0


if __name__ == "__main__":
    sys.exit(main())
