#!/usr/bin/env python3
"""Checks the layout docs/architecture.md describes (issue 17):

- one folder per area, the same word in every crate that has it, and nothing else at the top
  of a crate's src/ but the crate's own few files;
- the shared folders (core/kernel, store/infra, web/ui, web/auth) import no area;
- in web, no area imports another area's pages or handlers;
- templates live in the folder of their area (or ui/).

Run from the repository root; prints each violation and exits 1 if there is any.
"""
import pathlib
import re
import sys

AREAS = {"accounts", "tree", "registry", "epidemic", "reports", "requests", "supplies",
         "enterprises", "participation", "work", "departments", "casework"}
SHARED = {"core": {"kernel"}, "store": {"infra"}, "web": {"ui", "auth"}, "cli": set()}
# Files a crate may keep at the top of src/ beside its area folders.
TOP_FILES = {
    "core": {"lib.rs", "fuzzing.rs"},
    "store": {"lib.rs", "testing.rs"},
    "web": {"lib.rs", "error.rs", "metrics.rs", "openapi.rs"},
    "cli": None,  # the binary's commands: not split by area
}
AREA_REF = re.compile(r"crate::(" + "|".join(sorted(AREAS)) + r")\b")

root = pathlib.Path(__file__).resolve().parent.parent / "crates"
problems = []

for crate, shared in SHARED.items():
    src = root / crate / "src"
    allowed_files = TOP_FILES[crate]
    if allowed_files is None:
        continue
    for entry in sorted(src.iterdir()):
        if entry.is_dir():
            if entry.name not in AREAS and entry.name not in shared:
                problems.append(f"{entry}: not an area ({', '.join(sorted(AREAS))}) "
                                f"nor a shared folder ({', '.join(sorted(shared))})")
            elif not (entry / "mod.rs").exists():
                problems.append(f"{entry}: a folder without mod.rs")
        elif entry.name not in allowed_files:
            problems.append(f"{entry}: a file at the top of src/ (areas live in folders)")
    # Shared folders import no area.
    for folder in shared:
        for f in sorted((src / folder).rglob("*.rs")):
            for n, line in enumerate(f.read_text().splitlines(), 1):
                m = AREA_REF.search(line)
                if m:
                    problems.append(f"{f}:{n}: shared code imports the area `{m.group(1)}`")

# Web: an area never reaches into another area's pages or handlers.
web = root / "web" / "src"
for area_dir in sorted(p for p in web.iterdir() if p.is_dir() and p.name in AREAS):
    for f in sorted(area_dir.rglob("*.rs")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            for m in AREA_REF.finditer(line):
                if m.group(1) != area_dir.name:
                    problems.append(f"{f}:{n}: the area `{area_dir.name}` imports the area "
                                    f"`{m.group(1)}`")

templates = root / "web" / "templates"
for entry in sorted(templates.iterdir()):
    if entry.is_file():
        problems.append(f"{entry}: a template outside an area folder")
    elif entry.name not in AREAS and entry.name not in {"ui"}:
        problems.append(f"{entry}: not an area's template folder")

for p in problems:
    print(p)
if problems:
    print(f"layout: {len(problems)} problem(s); see docs/architecture.md", file=sys.stderr)
    sys.exit(1)
print("layout: ok")
