"""The calculator's command line: ``python3 -m calc.cli add 2 3`` prints ``5``."""

import sys

from calc import ops

OPERATIONS = {"add": ops.add, "subtract": ops.subtract}


def main(argv: list[str]) -> int:
    """Run one operation on two integers and print the result."""
    if len(argv) != 3 or argv[0] not in OPERATIONS:
        print("usage: python3 -m calc.cli add|subtract A B", file=sys.stderr)
        return 2
    print(OPERATIONS[argv[0]](int(argv[1]), int(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
