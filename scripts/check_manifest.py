"""Check that what a publisher ships agrees with Cargo.toml.

The license files named by the `license` expression exist, and the README's header line
states the crate's version, license and MSRV as Cargo.toml declares them. Run from the
repository root (scripts/check-publish does); exits 1 with one line per problem.
"""

import pathlib
import sys
import tomllib

LICENSE_FILES = {"MIT": "LICENSE-MIT", "Apache-2.0": "LICENSE-APACHE"}


def problems(root: pathlib.Path) -> list[str]:
    package = tomllib.loads((root / "Cargo.toml").read_text())["package"]
    found = []
    for name in package["license"].replace("(", " ").replace(")", " ").split():
        if name in ("OR", "AND", "WITH"):
            continue
        path = LICENSE_FILES.get(name)
        if path is None:
            found.append(f"no license file known for {name}: add it to LICENSE_FILES")
        elif not (root / path).is_file():
            found.append(f"license {name} is declared but {path} is missing")
    readme = (root / package.get("readme", "README.md")).read_text().splitlines()
    header = next((line for line in readme[1:] if line.strip()), "")
    expected = [
        f"Version {package['version']}",
        f"license {package['license']}",
        f"MSRV Rust {package['rust-version']}",
    ]
    for text in expected:
        if text not in header:
            found.append(f"the README's header line does not say {text!r}: {header!r}")
    for path in LICENSE_FILES.values():
        if (root / path).is_file() and f"({path})" not in header:
            found.append(f"the README's header line does not link {path}")
    return found


if __name__ == "__main__":
    found = problems(pathlib.Path("."))
    for problem in found:
        print(f"check_manifest: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
