#!/usr/bin/python3
"""The Dockerfile, checked without a Docker engine: every runtime package exists in Debian 12
and is a runtime (not -dev) package; every shared library the built binaries load (ldd)
belongs to one of them; the build stage uses the project's own scripts; the image's user is
the UID the manifests run as; .dockerignore keeps build trees and .git out of the context.

Usage: dockerfile_test.py --bin-dir build/bin [--sanitized] [unittest arguments]
"""
import argparse
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import manifest_checker  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = None
# The image is built with the default preset; a sanitizer build loads other libraries
# (libasan, libubsan, Boost's debug dependencies), so its binaries say nothing about it.
SANITIZED = False
TIMEOUT_S = 60


def instructions(path):
    """(stage name, instruction, argument text) with continuation lines joined."""
    out, stage, buf = [], None, ""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        line = line.rstrip("\n")
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        text = (buf + line).strip()
        buf = ""
        word, _, rest = text.partition(" ")
        if word.upper() == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
            stage = m.group(1) if m else None
        out.append((stage, word.upper(), rest))
    return out


DOCKERFILE = os.path.join(REPO, "Dockerfile")


def runtime_packages():
    for stage, word, rest in instructions(DOCKERFILE):
        if stage == "runtime" and word == "RUN" and "apt-get install" in rest:
            after = rest.split("apt-get install", 1)[1].split("&&", 1)[0].split()
            return [p for p in after if not p.startswith("-")]
    raise AssertionError("no apt-get install in the runtime stage")


def owning_packages(libs):
    """{library: Debian package that installed it}, trying the merged-/usr spellings; one
    dpkg query for all of them."""
    spellings = {}
    for lib in libs:
        real = os.path.realpath(lib)
        for p in (lib, real):
            for s in (p, p.replace("/usr/lib/", "/lib/", 1), p.replace("/lib/", "/usr/lib/", 1)):
                spellings.setdefault(s, set()).add(lib)
    # dpkg -S exits 1 when some spelling is unknown; the known ones are still listed.
    out = subprocess.run(["dpkg", "-S"] + sorted(spellings), capture_output=True, text=True,
                         timeout=TIMEOUT_S).stdout
    owners = {}
    for line in out.splitlines():
        package, _, path = line.partition(": ")
        for lib in spellings.get(path.strip(), ()):
            owners[lib] = package.split(":", 1)[0]
    return owners


def shipped_binaries():
    """Binary names the runtime stage copies from the build stage."""
    names = []
    for stage, word, rest in instructions(DOCKERFILE):
        if stage == "runtime" and word == "COPY" and "--from=build" in rest:
            names += [os.path.basename(a) for a in rest.split()[1:-1]]
    return names


class Dockerfile(unittest.TestCase):
    def test_runtime_packages_exist_and_are_not_dev_packages(self):
        packages = runtime_packages()
        self.assertIn("ca-certificates", packages)
        # One query: apt-cache policy lists every name with its candidate, or nothing.
        out = subprocess.run(["apt-cache", "policy"] + packages, capture_output=True, text=True,
                             check=True, timeout=TIMEOUT_S).stdout
        known = {m.group(1) for m in re.finditer(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: "
                                                  r"(?!\(none\))", out, re.MULTILINE)}
        for p in packages:
            with self.subTest(package=p):
                self.assertFalse(p.endswith("-dev"), f"{p} is a development package")
                self.assertIn(p, known, f"{p} is not a Debian package here")

    def unshipped_libraries(self, packages):
        """Libraries the built binaries load that `packages` do not provide."""
        if SANITIZED:
            self.skipTest("sanitizer build: the image's binaries come from the default preset")
        shipped = shipped_binaries()
        self.assertEqual(sorted(shipped), ["pve-gateway", "pve-mock"])
        problems, checked = [], 0
        for name in shipped:
            binary = os.path.join(BIN_DIR, name)
            if not os.path.exists(binary):
                print(f"note: {binary} not built here; its libraries are not checked")
                continue
            checked += 1
            out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True,
                                 timeout=TIMEOUT_S).stdout
            self.assertNotIn("not found", out)
            libs = re.findall(r"=>\s+(/\S+)", out)
            self.assertTrue(libs)
            owners = owning_packages(libs)
            for lib in libs:
                owner = owners.get(lib)
                if owner is None:
                    problems.append(f"{name}: no Debian package owns {lib}")
                elif owner not in packages:
                    problems.append(f"{name} loads {lib} from {owner}, which the runtime "
                                    "stage does not install")
        self.assertGreater(checked, 0, "no binary to check; build pve-gateway first")
        return problems

    def test_every_library_the_binaries_load_comes_from_a_runtime_package(self):
        problems = self.unshipped_libraries(set(runtime_packages()))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_a_missing_runtime_package_is_noticed(self):
        packages = set(runtime_packages())
        packages.discard("libgrpc++1.51")
        problems = self.unshipped_libraries(packages)
        self.assertTrue(any("libgrpc++1.51" in p for p in problems), problems)

    def test_build_stage_uses_the_project_scripts_and_presets(self):
        build = " ".join(rest for stage, word, rest in instructions(DOCKERFILE)
                         if stage == "build" and word == "RUN")
        self.assertIn("scripts/install-deps.sh", build)
        self.assertIn("cmake --preset default", build)
        self.assertIn("cmake --build --preset default", build)
        froms = [rest for _, word, rest in instructions(DOCKERFILE) if word == "FROM"]
        self.assertTrue(any(f.startswith("debian:12 ") for f in froms), froms)
        self.assertTrue(any(f.startswith("debian:12-slim ") for f in froms), froms)

    def test_non_root_user_is_the_manifests_uid(self):
        uid = manifest_checker.EXPECTED_UID
        runtime = [(word, rest) for stage, word, rest in instructions(DOCKERFILE)
                   if stage == "runtime"]
        users = [rest for word, rest in runtime if word == "USER"]
        self.assertEqual(users, [f"{uid}:{uid}"])
        useradd = " ".join(rest for word, rest in runtime if word == "RUN" and "useradd" in rest)
        self.assertIn(f"--uid {uid}", useradd)
        self.assertEqual(runtime[-1][0], "ENTRYPOINT", "the last instruction names the binary")

    def test_dockerignore_keeps_build_trees_and_git_out(self):
        with open(os.path.join(REPO, ".dockerignore"), encoding="utf-8") as f:
            lines = f.read().split()
        for pattern in (".git", "build", "build-*"):
            self.assertIn(pattern, lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--sanitized", action="store_true")
    args, rest = parser.parse_known_args()
    BIN_DIR = args.bin_dir
    SANITIZED = args.sanitized
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
