#!/usr/bin/env python3
"""Generates a corpus of realistic Tekton Task files for benchmarking `stepkit task lint`.

    scripts/gen-lint-corpus.py --count 1000 --out /tmp/corpus [--seed 42] [--issue-rate 0.15]

Files go to OUT/task/<name>/<version>/<name>.yaml (the catalog layout). Each Task has 1-6 steps
with 5-60 line shell scripts built from common CI idioms, 2-10 params (strings, arrays, objects,
dotted names), results, workspaces, labels and annotations; about --issue-rate of them carry one
or two problems a linter should find (params in a script, a latest image, privileged, set -x, an
undefined or unused param, a missing description, a typo'd field). The same seed gives the same
corpus. Standard library only.
"""

import argparse
import json
import os
import random
import re

IMAGES = [
    "registry.access.redhat.com/ubi9/ubi-minimal:9.6@sha256:34880b64c07f28f64d95737f82f891516de9a3b43583f39970f7bf8e4cfa48b7",
    "registry.access.redhat.com/ubi9/ubi:9.6@sha256:dec374e05cc13ebbc0975c9f521f3db6942d27f8ccdf06b180160490eef8bdbc",
    "docker.io/library/bash:5.3.0@sha256:6a3e1c2ddbdee552cd69ad8244eee84ad6cc00049c338f700ef5ef247be16f7b",
    "docker.io/library/golang:1.23.4-bookworm@sha256:2e838582004fab0931693a3a84743ceccfbfeeafa8187e87291a1afea457ff7a",
    "docker.io/alpine/git:v2.47.1@sha256:39ac44ff6c6f659ee55eedd221a6b7e4cdfcf9d17ea2be024f588c3ddcd3ce7d",
    "quay.io/konflux-ci/appstudio-utils:48c311af02858e2422d6229600e9959e496ddef1",
    "registry.access.redhat.com/ubi9/python-311:9.6",
    "docker.io/library/node:22.12-bookworm-slim",
]
LATEST_IMAGES = ["docker.io/library/alpine:latest", "ubuntu", "quay.io/example/tools:latest"]
CATEGORIES = ["Build Tools", "Code Quality", "Continuous Integration", "Deployment", "Git",
              "Image Build", "Kubernetes", "Security", "Testing", "Publishing"]
VERBS = ["build", "test", "scan", "push", "sign", "verify", "lint", "deploy", "sync", "report",
         "package", "publish", "check", "render", "fetch", "promote", "archive", "audit"]
NOUNS = ["image", "chart", "manifests", "sources", "bundle", "sbom", "docs", "release", "module",
         "catalog", "operator", "wheel", "artifacts", "config", "snapshot", "policy", "rpms"]
# String params and the defaults they plausibly have (None: required).
STRING_PARAMS = {"url": None, "revision": "main", "image-url": None, "image-digest": None,
                 "context": ".", "dockerfile": "Containerfile", "namespace": "default",
                 "registry": "quay.io", "log-level": "info", "timeout": "10m", "subdirectory": "",
                 "branch": "main", "target": "all", "version": "", "channel": "stable",
                 "output-format": "json", "verbose": "false", "ca-file": "ca-bundle.crt"}
DOTTED_PARAMS = ["build.target", "release.channel", "sbom.format", "scan.severity"]
ARRAY_PARAMS = ["build-args", "extra-flags", "paths", "tags", "packages", "excludes"]
OBJECT_PARAMS = {"git": ["url", "revision", "depth"], "image": ["url", "digest"],
                 "cluster": ["server", "namespace", "context"], "proxy": ["http", "https", "none"]}
RESULT_NAMES = ["IMAGE_DIGEST", "IMAGE_URL", "TEST_OUTPUT", "commit", "checksum", "report-url",
                "SCAN_OUTPUT", "version"]
WORKSPACES = [("source", False), ("cache", True), ("credentials", True), ("output", False)]


def env_name(name):
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def scalar(text):
    """A YAML scalar: plain when that is safe, else a JSON (double-quoted) string."""
    plain = (
        re.fullmatch(r"[A-Za-z/$(][^\\\"'#]*", text)
        and ": " not in text
        and not text.endswith(":")
        and text.lower() not in ("true", "false", "yes", "no", "null", "on", "off", "y", "n")
    )
    if plain:
        return text
    return f"'{text}'" if '"' in text and "'" not in text else json.dumps(text)


class Step:
    """One step as it will be written out."""

    def __init__(self, name, image):
        self.name = name
        self.image = image
        self.env = []
        self.args = []
        self.script = None
        self.command = None
        self.working_dir = None
        self.security = None
        self.on_error = None
        self.timeout = None

    def add_env(self, name, value):
        """Adds an env var, renaming it if the step already has one of that name."""
        taken = {existing for existing, _ in self.env}
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}_{n}", n + 1
        self.env.append((unique, value))


def shell_snippets(rng, step, vars_, results, workspaces):
    """Candidate blocks of shell (lists of lines) using the step's env vars."""
    some = lambda: rng.choice(vars_) if vars_ else "HOME"
    snippets = [
        ['echo "[$(date -u +%FT%TZ)] ' + step.name + ': starting"'],
        ["retry() {", "  local attempts=$1", "  shift", "  local n=1", '  until "$@"; do',
         "    if (( n >= attempts )); then", '      echo "failed after ${n} attempts: $*" >&2',
         "      return 1", "    fi", "    sleep $((n * 2))", "    n=$((n + 1))", "  done", "}"],
        ['response="$(curl --fail --silent --show-error --location "${' + some() + '}")"',
         "version=\"$(jq -r '.version // empty' <<< \"${response}\")\"",
         'if [[ -z "${version}" ]]; then', '  echo "no version in the response" >&2', "  exit 1",
         "fi", 'echo "found version ${version}"'],
        ['workdir="$(mktemp -d)"', 'cleanup() { rm -rf "${workdir}"; }', "trap cleanup EXIT"],
        ['case "${' + some() + '}" in', "  debug | trace)", '    echo "verbose output enabled"',
         "    ;;", '  "")', '    echo "nothing set, using defaults"', "    ;;", "  *)",
         '    echo "level: ${' + some() + '}"', "    ;;", "esac"],
        ["count=0", "while IFS= read -r -d '' file; do",
         '  if ! grep -q "apiVersion" "${file}"; then', '    echo "skipping ${file}"',
         "    continue", "  fi", "  count=$((count + 1))", "done < <(find . -name '*.yaml' -print0)",
         'echo "${count} manifests found"'],
        ['for arg in "$@"; do', '  echo "argument: ${arg}"', "done"],
        ['git config --global --add safe.directory "$(pwd)"', 'commit="$(git rev-parse HEAD)"',
         'short="${commit:0:7}"', 'echo "building ${short}"'],
        ['archive="${workdir:-/tmp}/bundle.tar.gz"', 'tar --create --gzip --file "${archive}" .',
         'sha256sum "${archive}" | cut -d" " -f1 > "${archive}.sha256"',
         'echo "archive checksum $(cat "${archive}.sha256")"'],
        ['cat > "${workdir:-/tmp}/config.json" <<EOF', "{", '  "registry": "${' + some() + '}",',
         '  "insecure": false', "}", "EOF"],
        ['if [[ -n "${' + some() + ':-}" ]]; then', '  export HTTPS_PROXY="${' + some() + '}"',
         "fi"],
        ['echo "::group::environment"', "env | grep -E '^(PARAM|IMAGE|GIT)_' | sort || true",
         'echo "::endgroup::"'],
        ['status=0', 'make -C "${' + some() + ':-.}" test || status=$?',
         'if [[ "${status}" -ne 0 ]]; then', '  echo "tests failed with ${status}" >&2', "fi"],
    ]
    for workspace, optional in workspaces:
        var = env_name(workspace)
        if optional:
            snippets.append(['if [[ "${' + var + '_BOUND}" == "true" ]]; then',
                             '  cp -r "${' + var + '_PATH}/." "${HOME}/.' + workspace + '"',
                             '  echo "using the ' + workspace + ' workspace"', "fi"])
        else:
            snippets.append(['cd "${' + var + '_PATH}"', "ls -la"])
    for result in results:
        var = "RESULT_" + env_name(result)
        snippets.append(['value="${version:-unknown}"', 'printf "%s" "${value}" > "${' + var + '}"'])
    return snippets


def build_script(rng, step, vars_, results, workspaces, errexit=True, xtrace=False):
    """A 5-60 line script: shebang, errexit, then distinct snippets, results written last."""
    target = rng.randint(5, 60)
    lines = ["#!/usr/bin/env bash" if rng.random() < 0.8 else "#!/bin/sh"]
    if errexit:
        lines.append("set -euo pipefail" if lines[0].endswith("bash") else "set -eu")
    if xtrace:
        lines.append("set -x")
    lines.append("")
    snippets = shell_snippets(rng, step, vars_, results, workspaces)
    tail = [s for s in snippets if any("RESULT_" in line for line in s)]
    body = [s for s in snippets if s not in tail]
    rng.shuffle(body)
    room = target - len(lines) - sum(len(s) for s in tail)
    for block in body:
        if len(block) <= room:
            lines.extend(block)
            room -= len(block)
    lines.extend(['echo "' + step.name + ': done"'] * max(0, room if len(lines) < 5 else 0))
    for block in tail:
        lines.extend(block)
    return lines


def generate_task(rng, index, issue_rate):
    name = f"{rng.choice(VERBS)}-{rng.choice(NOUNS)}-{index}"
    version = f"0.{rng.randint(1, 4)}"
    api = "tekton.dev/v1" if rng.random() < 0.8 else "tekton.dev/v1beta1"
    issues = set()
    if rng.random() < issue_rate:
        issues = set(rng.sample(["params-in-script", "latest-image", "privileged", "xtrace",
                                 "undefined-param", "unused-param", "no-description",
                                 "unknown-field", "no-errexit", "run-as-root"], rng.randint(1, 2)))

    params = []  # (name, type, description, default, properties)
    for pname in rng.sample(sorted(STRING_PARAMS), rng.randint(1, 5)):
        default = STRING_PARAMS[pname]
        params.append((pname, "string", f"The {pname.replace('-', ' ')} to use.", default, None))
    if rng.random() < 0.3:
        params.append((rng.choice(DOTTED_PARAMS), "string", "A setting with a dotted name.", "default", None))
    for pname in rng.sample(ARRAY_PARAMS, rng.randint(0, 2)):
        params.append((pname, "array", f"Values for {pname.replace('-', ' ')}, one per element.", ["--verbose"] if rng.random() < 0.5 else [], None))
    for pname in rng.sample(sorted(OBJECT_PARAMS), rng.randint(0, 2)):
        keys = OBJECT_PARAMS[pname]
        params.append((pname, "object", f"The {pname} settings.", None, keys))
    params = params[:10]
    if len(params) < 2:
        params.append(("log-level", "string", "How much to log.", "info", None))
    if "no-description" in issues:
        first = params[0]
        params[0] = (first[0], first[1], None, first[3], first[4])

    results = rng.sample(RESULT_NAMES, rng.randint(0, 3))
    workspaces = rng.sample(WORKSPACES, rng.randint(0, 3))
    steps = [Step(f"{rng.choice(['prepare', 'run', 'collect', 'upload', 'verify', 'build', 'check', 'report'])}-{i}",
                  rng.choice(IMAGES)) for i in range(rng.randint(1, 6))]

    # Every param reaches some step: strings and object keys through env, arrays through args.
    for pname, ptype, _, _, keys in params:
        step = rng.choice(steps)
        if ptype == "array":
            step.args.append(f"$(params.{pname}[*])")
        elif ptype == "object":
            for key in keys:
                step.add_env(env_name(f"{pname}_{key}"), f"$(params.{pname}.{key})")
        elif "." in pname:
            step.add_env(env_name(pname), f'$(params["{pname}"])')
        else:
            step.add_env(env_name(pname), f"$(params.{pname})")
    for workspace, optional in workspaces:
        step = rng.choice(steps)
        step.add_env(env_name(workspace) + "_PATH", f"$(workspaces.{workspace}.path)")
        if optional:
            step.add_env(env_name(workspace) + "_BOUND", f"$(workspaces.{workspace}.bound)")
    step_results = {step.name: [] for step in steps}
    for result in results:
        step = steps[-1]
        step.add_env("RESULT_" + env_name(result), f"$(results.{result}.path)")
        step_results[step.name].append(result)
    if "undefined-param" in issues:
        steps[0].add_env("MISSING", "$(params.not-declared)")
    if "unused-param" in issues:
        params.append(("legacy-option", "string", "No longer used.", "", None))

    for i, step in enumerate(steps):
        vars_ = [name for name, _ in step.env if not name.startswith("RESULT_")]
        step_workspaces = [(w, o) for w, o in workspaces if any(n == env_name(w) + "_PATH" for n, _ in step.env)]
        if rng.random() < 0.1 and not step.args and not step_results[step.name]:
            step.command = ["make"]
            step.args = ["-C", "$(workspaces.source.path)" if ("source", False) in workspaces else ".", "check"]
            continue
        step.script = build_script(rng, step, vars_, step_results[step.name], step_workspaces,
                                   errexit=not (i == 0 and "no-errexit" in issues),
                                   xtrace=i == 0 and "xtrace" in issues)
        if rng.random() < 0.3 and ("source", False) in workspaces:
            step.working_dir = "$(workspaces.source.path)"
        if rng.random() < 0.15:
            step.on_error = "continue"
        if rng.random() < 0.2:
            step.timeout = rng.choice(["5m", "10m", "30m", "1h"])
    if "params-in-script" in issues:
        target = next((s for s in steps if s.script), None)
        string_params = [p for p in params if p[1] == "string" and "." not in p[0]]
        if target and string_params:
            target.script.insert(3, f'echo "using $(params.{string_params[0][0]})"')
    if "latest-image" in issues:
        steps[0].image = rng.choice(LATEST_IMAGES)
    if "privileged" in issues:
        steps[-1].security = {"privileged": "true"}
    elif "run-as-root" in issues:
        steps[-1].security = {"runAsUser": "0"}
    elif rng.random() < 0.4:
        steps[-1].security = {"runAsNonRoot": "true", "allowPrivilegeEscalation": "false"}

    return name, version, render(rng, name, version, api, params, results, workspaces, steps, issues)


def render(rng, name, version, api, params, results, workspaces, steps, issues):
    out = [f"apiVersion: {api}", "kind: Task", "metadata:", f"  name: {name}", "  labels:",
           f'    app.kubernetes.io/version: "{version}"', "  annotations:",
           '    tekton.dev/pipelines.minVersion: "0.50.0"',
           f"    tekton.dev/categories: {rng.choice(CATEGORIES)}",
           f"    tekton.dev/tags: {name.split('-')[0]}, {name.split('-')[1]}",
           f'    tekton.dev/displayName: "{name.rsplit("-", 1)[0].replace("-", " ")}"',
           '    tekton.dev/platforms: "linux/amd64,linux/arm64"',
           "spec:", "  description: >-",
           f"    {name.split('-')[0].capitalize()}s the {name.split('-')[1]} of a component.", "",
           "    Generated for benchmarking; the steps use common CI idioms.", "  params:"]
    for pname, ptype, description, default, keys in params:
        out.append(f"    - name: {pname}")
        out.append(f"      type: {ptype}")
        if description:
            out.append(f"      description: {scalar(description)}")
        if keys:
            out.append("      properties:")
            out.extend(f"        {key}:\n          type: string" for key in keys)
        if ptype == "array" and default is not None:
            out.append("      default:" + ("" if default else " []"))
            out.extend(f"        - {scalar(v)}" for v in default)
        elif default is not None:
            out.append(f"      default: {json.dumps(default)}")
    if workspaces:
        out.append("  workspaces:")
        for workspace, optional in workspaces:
            out.append(f"    - name: {workspace}")
            out.append(f"      description: The {workspace} directory.")
            if optional:
                out.append("      optional: true")
    if results:
        out.append("  results:")
        for result in results:
            out.append(f"    - name: {result}")
            out.append(f"      description: The {result} the task produced.")
    out.append("  steps:")
    for step in steps:
        out.append(f"    - name: {step.name}")
        out.append(f"      image: {step.image}")
        if "unknown-field" in issues and step is steps[0]:
            out.append("      imagePullPolicey: IfNotPresent")
        if step.working_dir:
            out.append(f"      workingDir: {step.working_dir}")
        if step.on_error:
            out.append(f"      onError: {step.on_error}")
        if step.timeout:
            out.append(f"      timeout: {step.timeout}")
        if step.env:
            out.append("      env:")
            for env, value in step.env:
                out.append(f"        - name: {env}")
                out.append(f"          value: {scalar(value)}")
        if step.command:
            out.append("      command:")
            out.extend(f"        - {scalar(c)}" for c in step.command)
        if step.args:
            out.append("      args:")
            out.extend(f"        - {scalar(a)}" for a in step.args)
        if step.security:
            out.append("      securityContext:")
            out.extend(f"        {k}: {v}" for k, v in step.security.items())
        if step.script:
            out.append("      script: |")
            out.extend(f"        {line}" if line else "" for line in step.script)
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="how many Task files (default 1000)")
    parser.add_argument("--out", required=True, help="directory to write the corpus to")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--issue-rate", type=float, default=0.15,
                        help="share of files with problems a linter should find (default 0.15)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for index in range(args.count):
        name, version, text = generate_task(rng, index, args.issue_rate)
        directory = os.path.join(args.out, "task", name, version)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{name}.yaml"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
