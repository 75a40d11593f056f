"""Mutation testing of the timing and cost models, one package at a time, with mutmut.

    python bench/mutation.py                                  # every package below, in priority order
    python bench/mutation.py --package sim/engine --package sim/mapping --max-mutants 150
    python bench/mutation.py --report-only                    # rewrite the JSON from what has run so far

Each package runs in its own scratch copy of the repository (``.mutation/<package>/``, not committed) whose
``pyproject.toml`` carries a ``[tool.mutmut]`` section naming the files to mutate and the few test files that
exercise them (the full suite is minutes, far too slow per mutant). mutmut keeps a verdict per mutant in its
``mutants/`` directory, so an interrupted run resumes where it stopped; mutants are run in small batches and
``bench/results/mutation.json`` is rewritten after every batch.

When a package has more mutants than ``--max-mutants``, a uniform sample is drawn with a fixed seed (``--seed``)
and the JSON says so (``sampled: true``, ``population``). Analysed survivors are annotated from
``bench/mutation_survivors.yaml``: ``equivalent: why`` or ``killed_by: test`` (the test that kills it now).

One test process at a time (``--max-children 1``); run it under ``nice -n 19`` on a shared machine.
Not part of CI.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".mutation"
OUT = REPO / "bench" / "results" / "mutation.json"
ANNOTATIONS = REPO / "bench" / "mutation_survivors.yaml"

# package -> (files to mutate, tests that exercise them). Priority order: engine and mapping first.
PACKAGES: dict[str, dict[str, list[str]]] = {
    "sim/engine": {
        "mutate": ["sim/engine/*"],
        "tests": ["tests/test_engine.py", "tests/test_engine_mutants.py", "tests/test_pathological.py",
                  "tests/test_engine_pools.py", "tests/test_trace.py"],
    },
    "sim/mapping": {
        "mutate": ["sim/mapping/*"],
        "tests": ["tests/test_engine.py", "tests/test_mapping_mutants.py", "tests/test_pathological.py",
                  "tests/test_plugin_toy.py", "tests/test_mapping_memo.py", "tests/test_point_caches.py",
                  "tests/test_generation.py"],
    },
    "sim/hw": {
        "mutate": ["sim/hw/*"],
        "tests": ["tests/test_hw_dram.py", "tests/test_hw_mutants.py", "tests/test_hw_gobo_tile.py",
                  "tests/test_hw_systolic.py", "tests/test_hw_tensorcore.py", "tests/test_engine.py"],
    },
    "sim/cost": {
        "mutate": ["sim/cost/*"],
        "tests": ["tests/test_cost_energy.py", "tests/test_cost_scaling.py", "tests/test_cost_table.py",
                  "tests/test_cost_mutants.py"],
    },
    "sim/compute": {
        "mutate": ["sim/compute/base.py", "sim/compute/registry.py", "sim/compute/gobo/*",
                   "sim/compute/systolic/*", "sim/compute/tensorcore/*"],
        "tests": ["tests/test_hw_gobo_mac.py", "tests/test_hw_gobo_tile.py", "tests/test_hw_systolic.py",
                  "tests/test_hw_tensorcore.py", "tests/test_plugin_toy.py", "tests/test_functional_dataflow.py",
                  "tests/test_cost_energy.py", "tests/test_compute_mutants.py"],
    },
    "sim/compute/olaccel": {
        "mutate": ["sim/compute/olaccel/timing.py"],
        "tests": ["tests/test_hw_olaccel.py", "tests/test_olaccel_act_outliers.py"],
    },
    "sim/compute/gobo/dataflow": {
        "mutate": ["sim/compute/gobo/dataflow.py"],
        "tests": ["tests/test_functional_dataflow.py", "tests/test_hw_gobo_bins.py"],
    },
    "sim/compute/activations": {
        "mutate": ["sim/compute/olive/dataflow.py", "sim/compute/olaccel/dataflow.py"],
        "tests": ["tests/test_activation_formats.py", "tests/test_hw_olive.py", "tests/test_hw_olaccel.py"],
    },
}

# what every scratch copy needs besides the package: the built-in presets and the test data
COPY = ["sim", "tests", "hwconfigs", "workloads", "docs/schemas", "pyproject.toml"]
BATCH = 25
LOCK = WORK / "lock"  # held while a batch runs: `flock .mutation/lock pytest ...` waits for it

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no_tests", 33: "no_tests", 34: "skipped",
          36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", 37: "type_check",
          -11: "segfault", -9: "segfault", None: "not_checked"}


def _slug(package: str) -> str:
    return package.strip("/").replace("/", "-")


def _mutmut_section(cfg: dict[str, list[str]], work: Path) -> str:
    tests = [t for t in cfg["tests"] if (work / t).is_file()]
    lines = ["", "[tool.mutmut]", 'source_paths = ["sim"]',
             "only_mutate = [" + ", ".join(json.dumps(p) for p in cfg["mutate"]) + "]",
             'also_copy = ["hwconfigs", "workloads", "docs"]',
             # -x: the first failing test kills the mutant; -p no:randomly etc. are not installed
             "pytest_add_cli_args = [\"-x\", \"-q\", \"-p\", \"no:cacheprovider\"]",
             "pytest_add_cli_args_test_selection = [" + ", ".join(json.dumps(t) for t in tests) + "]",
             "use_git_change_detection = false", "timeout_multiplier = 5.0", ""]
    return "\n".join(lines)


def prepare(package: str, tests_ref: str | None = None) -> Path:
    """Sync the scratch copy of the repository for ``package`` (sources, tests, presets, config); with
    ``tests_ref``, the tests as of that git revision (the score before new tests), in a scratch copy of its own."""
    cfg = PACKAGES[package]
    work = WORK / (_slug(package) + (f"@{tests_ref}" if tests_ref else ""))
    work.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        if tests_ref and name == "tests":
            shutil.rmtree(work / "tests", ignore_errors=True)
            archive = subprocess.run(["git", "-C", str(REPO), "archive", tests_ref, "tests"], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
            continue
        src, dst = REPO / name, work / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    text = (REPO / "pyproject.toml").read_text()
    (work / "pyproject.toml").write_text(text + _mutmut_section(cfg, work))
    # tests copied earlier but since removed from the package's selection do not linger in mutants/tests
    mtests = work / "mutants" / "tests"
    if mtests.is_dir():
        for t in (work / "tests").glob("test_*.py"):
            shutil.copy2(t, mtests / t.name)
    return work


def _mutmut(work: Path, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mutmut")
    cmd = [str(exe) if exe.exists() else "mutmut", *args]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"mutmut {' '.join(args[:2])} failed in {work} (exit {proc.returncode})")
    return proc


def generate(work: Path) -> None:
    """Create the mutants (mutmut's generation step only, no test run)."""
    code = ("import sys\n"
            "from mutmut.__main__ import create_mutants\n"
            "from mutmut.utils.file_utils import copy_src_dir, copy_also_copy_files, setup_source_paths\n"
            "import os; os.makedirs('mutants', exist_ok=True)\n"
            "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"mutant generation failed in {work}")


def load_meta(work: Path, package: str) -> dict[str, dict[str, Any]]:
    """Mutant name -> {module file, exit code} from mutmut's per-file meta files."""
    out: dict[str, dict[str, Any]] = {}
    root = work / "mutants"
    for meta in sorted(root.glob("sim/**/*.py.meta")):
        rel = str(meta.relative_to(root))[: -len(".meta")]
        if not _in_package(rel, package):
            continue
        data = json.loads(meta.read_text())
        for key, code in data.get("exit_code_by_key", {}).items():
            out[key] = {"file": rel, "exit_code": code}
    return out


def _in_package(rel: str, package: str) -> bool:
    import fnmatch

    return any(fnmatch.fnmatch(rel, p) for p in PACKAGES[package]["mutate"])


def sample(names: list[str], max_mutants: int | None, seed: int) -> list[str]:
    """A uniform sample of ``max_mutants`` names (all of them when fewer), with a fixed seed."""
    names = sorted(names)
    if max_mutants is None or len(names) <= max_mutants:
        return names
    return sorted(random.Random(seed).sample(names, max_mutants))


_HUNK = re.compile(r"^@@ -(\d+)")


def _def_line(work: Path, rel: str, name: str) -> int | None:
    """File line of the function a mutant lives in (mutmut's diffs number lines from the ``def``)."""
    import ast

    func = name.rsplit(".", 1)[-1].split("__mutmut_")[0]
    if func.startswith("x\u01c1"):
        parts = func[2:].split("\u01c1")
        cls, meth = parts[0], parts[1]
    elif func.startswith("x_"):
        cls, meth = None, func[2:]
    else:
        return None
    tree = ast.parse((work / rel).read_text())
    scope: list[ast.stmt] = tree.body
    if cls is not None:
        node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if node is None:
            return None
        scope = node.body
    for n in scope:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == meth:
            return n.decorator_list[0].lineno if n.decorator_list else n.lineno
    return None


def describe(work: Path, name: str, cache: dict[str, dict[str, Any]], rel: str = "") -> dict[str, Any]:
    """Line and diff of one mutant (``mutmut show``), cached across report rewrites."""
    if name in cache:
        return cache[name]
    proc = _mutmut(work, "show", name, check=False, timeout=120)
    diff_lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith("# ")]
    diff = "\n".join(diff_lines).strip()
    func_line = None
    for ln in diff_lines:
        m = _HUNK.match(ln)
        if m:
            func_line = int(m.group(1))
            break
    # the hunk starts at the mutated function; the changed line is the first '-' line after the header
    line = None
    if func_line is not None:
        offset = 0
        started = False
        for ln in diff_lines:
            if _HUNK.match(ln):
                started = True
                continue
            if not started:
                continue
            if ln.startswith("-"):
                line = func_line + offset
                break
            if not ln.startswith("+"):
                offset += 1
    base = _def_line(work, rel, name) if rel and line is not None else None
    if base is not None and line is not None:
        line = base + line - 1
    removed = [ln[1:].strip() for ln in diff_lines if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:].strip() for ln in diff_lines if ln.startswith("+") and not ln.startswith("+++")]
    desc = f"{' / '.join(removed)}  ->  {' / '.join(added)}"
    cache[name] = {"line": line, "mutation": desc, "diff": diff}
    return cache[name]


def _annotations() -> dict[str, dict[str, str]]:
    if not ANNOTATIONS.is_file():
        return {}
    data = yaml.safe_load(ANNOTATIONS.read_text()) or {}
    return {str(k): v for k, v in data.items()}


def summarise(package: str, work: Path, chosen: list[str], population: int, sampled: bool, seed: int,
              desc_cache: dict[str, dict[str, Any]], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Per-package and per-module counts, score and survivors of the chosen mutants."""
    meta = load_meta(work, package)
    notes = _annotations()
    modules: dict[str, dict[str, Any]] = {}
    survivors = []
    totals = {"killed": 0, "survived": 0, "timeout": 0, "no_tests": 0, "other": 0, "not_checked": 0}
    for name in chosen:
        info = meta.get(name)
        if info is None:
            continue
        status = STATUS.get(info["exit_code"], "other")
        mod = modules.setdefault(info["file"], {"killed": 0, "survived": 0, "timeout": 0, "no_tests": 0,
                                                "other": 0, "not_checked": 0, "total": 0})
        mod["total"] += 1
        bucket = status if status in totals else "other"
        mod[bucket] += 1
        totals[bucket] += 1
        if status in ("survived", "no_tests"):
            entry: dict[str, Any] = {"name": name, "file": info["file"], "status": status}
            entry.update(describe(work, name, desc_cache, info["file"]))
            entry.update(notes.get(name, {}))
            survivors.append(entry)
    for mod in modules.values():
        mod["score"] = _score(mod)
    total = sum(totals.values())
    # survivors analysed as equivalent (no test can kill them) or untestable by mutmut (import-time code)
    excluded = sum(1 for e in survivors if "equivalent" in e or "untestable" in e)
    decided = totals["killed"] + totals["timeout"] + totals["survived"] + totals["no_tests"] - excluded
    return {
        "package": package,
        "tests": [t for t in PACKAGES[package]["tests"] if (work / t).is_file()],
        "population": population,
        "sampled": sampled,
        "seed": seed if sampled else None,
        "total": total,
        **totals,
        "score": _score(totals),
        "equivalent_or_untestable": excluded,
        "score_excluding_equivalent": None if decided <= 0 else
        round((totals["killed"] + totals["timeout"]) / decided, 4),
        "modules": dict(sorted(modules.items())),
        "survivors": survivors,
        "before": (previous or {}).get("before"),
        "killed_by_new_tests": (previous or {}).get("killed_by_new_tests"),
    }


def _score(c: dict[str, int]) -> float | None:
    """Killed (timeouts count as killed) over the mutants that were run to a verdict."""
    decided = c["killed"] + c["timeout"] + c["survived"] + c["no_tests"]
    return None if decided == 0 else round((c["killed"] + c["timeout"]) / decided, 4)


def which_test(package: str, seed: int, chosen: list[str]) -> dict[str, str]:
    """For each mutant that survived the tests as of ``--tests-ref`` but is killed now: the first new test
    (in the package's ``*_mutants.py`` files) that fails with it, run one mutant at a time in mutmut's copy."""
    before_dir = next(iter(sorted(WORK.glob(_slug(package) + "@*"))), None)
    work = WORK / _slug(package)
    if before_dir is None or not (work / "mutants").is_dir():
        return {}
    before, now = load_meta(before_dir, package), load_meta(work, package)
    names = [n for n in chosen if n in before and STATUS.get(before[n]["exit_code"]) == "survived"
             and n in now and STATUS.get(now[n]["exit_code"]) in ("killed", "timeout")]
    files = [t for t in PACKAGES[package]["tests"] if t.endswith("_mutants.py") and (work / t).is_file()]
    out: dict[str, str] = {}
    for name in names:
        env = dict(os.environ, MUTANT_UNDER_TEST=name)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider",
                                   *files], cwd=work / "mutants", env=env, capture_output=True, text=True,
                                  timeout=600)
        m = re.search(r"^FAILED (\S+)", proc.stdout, re.M)
        out[name] = m.group(1).split(" ")[0] if m else ("(timeout or error in the new tests)" if proc.returncode
                                                          else "(an existing test of the selection)")
        print(f"  {name}: {out[name]}", flush=True)
    return out


def write(report: dict[str, Any]) -> None:
    """Atomically rewrite the JSON report."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")
    tmp.replace(OUT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", action="append", choices=list(PACKAGES), help="package(s) to run (default: all)")
    ap.add_argument("--max-mutants", type=int, default=None, help="uniform sample of at most N mutants per package")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report-only", action="store_true", help="only rewrite the JSON from the verdicts so far")
    ap.add_argument("--rerun", choices=["none", "survivors"], default="none",
                    help="survivors: re-test the mutants that survived before (after adding tests)")
    ap.add_argument("--which-test", action="store_true",
                    help="find the new test that kills each former survivor (one pytest run per mutant)")
    ap.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                    help="start no new batch after this many seconds (the verdicts so far are kept)")
    ap.add_argument("--tests-ref", default=None, metavar="REV",
                    help="run the same mutants against the tests as of git REV (e.g. main): recorded as 'before'")
    args = ap.parse_args(argv)
    packages = args.package or list(PACKAGES)

    report: dict[str, Any] = json.loads(OUT.read_text()) if OUT.is_file() else {}
    report.setdefault("tool", "mutmut")
    report["command"] = "nice -n 19 python bench/mutation.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report.setdefault("packages", {})
    desc_cache: dict[str, dict[str, Any]] = {}

    for package in packages:
        work = prepare(package, args.tests_ref)
        if not (work / "mutants").is_dir() or not args.report_only:
            generate(work)
        meta = load_meta(work, package)
        population = len(meta)
        chosen = sample(list(meta), args.max_mutants, args.seed)
        sampled = len(chosen) < population
        prev = report["packages"].get(package)

        def flush(prev: dict[str, Any] | None = prev, chosen: list[str] = chosen, work: Path = work,
                  population: int = population, sampled: bool = sampled, package: str = package) -> None:
            entry = summarise(package, work, chosen, population, sampled, args.seed, desc_cache, prev)
            if args.tests_ref:  # the score before the new tests: counts and survivors' names only
                keep = ("tests", "population", "sampled", "seed", "total", "killed", "survived", "timeout",
                        "no_tests", "other", "not_checked", "score", "equivalent_or_untestable",
                        "score_excluding_equivalent")
                before = {k: entry[k] for k in keep}
                before["tests_ref"] = args.tests_ref
                before["modules"] = {m: {"score": v["score"], "total": v["total"]} for m, v in entry["modules"].items()}
                before["survivors"] = [{"name": s["name"], "where": f"{s['file']}:{s['line']}",
                                        "mutation": s["mutation"]} for s in entry["survivors"]]
                cur = report["packages"].setdefault(package, {"package": package})
                cur["before"] = before
            else:
                report["packages"][package] = entry
            report["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            write(report)

        if not args.report_only:
            if args.rerun == "survivors":
                todo = [n for n in chosen if STATUS.get(meta[n]["exit_code"]) in ("survived", "no_tests")]
            else:
                todo = []
            todo += [n for n in chosen if meta[n]["exit_code"] is None]
            # in a seeded random order, so that a run stopped early (--time-budget) leaves a uniform subsample
            random.Random(args.seed + 1).shuffle(todo)
            t_start = time.monotonic()
            print(f"{package}: {population} mutants, {len(chosen)} chosen, {len(todo)} to run", flush=True)
            for i in range(0, len(todo), BATCH):
                if args.time_budget is not None and time.monotonic() - t_start > args.time_budget:
                    print(f"  {package}: time budget spent, stopping (resume by running again)", flush=True)
                    break
                batch = todo[i:i + BATCH]
                with open(LOCK, "w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    proc = _mutmut(work, "run", "--max-children", "1", *batch, check=False)
                if proc.returncode != 0:
                    print(f"  mutmut exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}", flush=True)
                flush()
                done = load_meta(work, package)
                left = sum(1 for n in chosen if done[n]["exit_code"] is None)
                print(f"  {package}: batch {i // BATCH + 1}, {left} left", flush=True)
        flush()
        entry = report["packages"][package]
        if args.which_test and not args.tests_ref:
            entry["killed_by_new_tests"] = which_test(package, args.seed, chosen)
            write(report)
        if args.tests_ref:
            entry = entry["before"]
        print(f"{package}: killed {entry['killed']} survived {entry['survived']} timeout {entry['timeout']} "
              f"no tests {entry['no_tests']} of {entry['total']} -> score {entry['score']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
