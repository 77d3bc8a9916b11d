"""``python -m spade_studio`` / ``spade-studio``: the desktop editor."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--cli"]:  # a frozen build runs its command-line tools (e.g. the trainer) this way
        from spade_studio.cli import main as cli_main

        return cli_main(argv[1:])
    from spade_studio.model.allocator import keep_large_allocations

    keep_large_allocations()  # renders reuse their large blocks (page faults cost ~10 %)
    try:
        from spade_studio.app.main import run
    except ImportError:
        print(
            "SPADE Studio's editor window is not part of this build yet (it arrives with the editor release).\n"
            "Use the headless tool meanwhile:  spade-studio-cli render MAP.png -o out.png",
            file=sys.stderr,
        )
        return 2
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
