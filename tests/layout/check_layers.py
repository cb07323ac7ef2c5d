#!/usr/bin/env python3
"""Fails when a library includes upward (DESIGN.md §2) or pve-mock links gRPC.

Dependencies point one way: common <- api <- mockstate <- pvemock and
api <- gateway/backend <- {gateway/upstream, gateway}; only gateway/main.cc names both the
mock world and real mode; nothing at run time includes codegen; common, api, mockstate and
pvemock never include gRPC. Usage: check_layers.py SOURCE_DIR [PVE_MOCK_BINARY]
"""
import os
import re
import subprocess
import sys

# Folder -> project folders its files may include ("proxmox/..." and "google/..." are
# generated protobuf messages; the gRPC headers are checked separately).
ALLOWED = {
    "common": {"common"},
    "api": {"common", "api", "proxmox"},
    "mockstate": {"common", "api", "mockstate", "proxmox"},
    "pvemock": {"common", "api", "mockstate", "pvemock", "proxmox"},
    "gateway/backend": {"common", "api", "gateway/backend", "proxmox"},
    "gateway/upstream": {"common", "api", "gateway/backend", "gateway/upstream", "proxmox"},
    "gateway": {"common", "api", "gateway", "gateway/backend", "proxmox", "google", "grpc"},
    "codegen": {"common", "codegen"},
}
# Files of a folder with a wider set, each for a stated reason.
EXCEPTIONS = {
    # The wiring: picks mock mode or real mode.
    "gateway/main.cc": ALLOWED["gateway"] | {"mockstate", "gateway/upstream"},
    # Mock mode's Backend adapter, included only by main.cc and tests.
    "gateway/mock_mode_backend.h": ALLOWED["gateway"] | {"mockstate"},
}
NO_GRPC = {"common", "api", "mockstate", "pvemock", "codegen"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def folder_of(rel):
    parts = rel.split("/")
    if parts[0] == "gateway" and len(parts) > 2 and parts[1] in ("backend", "upstream"):
        return "/".join(parts[:2])
    return parts[0]


def main():
    root = sys.argv[1]
    problems = []
    checked = 0
    for top in ("common", "api", "mockstate", "pvemock", "gateway", "codegen"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                folder = folder_of(rel)
                allowed = EXCEPTIONS.get(rel, ALLOWED[folder])
                checked += 1
                with open(path, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        kind, inc = m.groups()
                        if kind == "<":
                            if folder in NO_GRPC and (inc.startswith("grpc") or inc.startswith("grpcpp/")):
                                problems.append(f"{rel}:{lineno}: {folder} must not include gRPC ({inc})")
                            continue
                        if "/" not in inc or inc.startswith(("absl/", "boost/", "gmock/", "gtest/")):
                            continue
                        tf = folder_of(inc)
                        if tf in ("google", "grpc") and folder in NO_GRPC:
                            problems.append(f"{rel}:{lineno}: {folder} must not include {inc}")
                            continue
                        if tf not in allowed:
                            problems.append(f"{rel}:{lineno}: {folder} may not include {inc} "
                                            f"(allowed: {', '.join(sorted(allowed))})")
    if len(sys.argv) > 2:
        binary = sys.argv[2]
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        grpc = [l.strip() for l in out.splitlines() if "grpc" in l or "gpr" in l]
        if grpc:
            problems.append(f"{binary} links gRPC: {'; '.join(grpc)}")
    for p in problems:
        print(p)
    print(f"{checked} files checked, {len(problems)} layering problems")
    print(f"{1 if not problems else 0} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
